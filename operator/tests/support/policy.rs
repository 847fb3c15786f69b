//! BackupPolicy objects, Jobs, pods and runner reports for the reconcile API tests.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::result::{
    BackupResult, ErrorKind, Outcome, ReportedError, RunnerCommand, RunnerReport,
};

use super::fixtures::example;

pub const NS: &str = "webshop";
pub const UID: &str = "5d1c7a36-0000-4000-8000-000000000001";
pub const JOBS: &str = "/apis/batch/v1/namespaces/webshop/jobs";
pub const PODS: &str = "/api/v1/namespaces/webshop/pods";
pub const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/webshop/events";
pub const STATUS: &str =
    "/apis/tidemark.dev/v1alpha1/namespaces/webshop/backuppolicies/webshop/status";

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A status whose last backup tick was `last_backup`; verification and restore test
/// are not due.
pub fn last_scheduled(last_backup: &str) -> Value {
    json!({"lastScheduleTime": last_backup,
           "lastVerificationScheduleTime": "2026-11-23T04:00:00Z",
           "lastRestoreTestScheduleTime": "2026-11-01T05:00:00Z"})
}

pub fn policy(edit: impl FnOnce(&mut Value)) -> BackupPolicy {
    let mut v: Value = example("webshop-hourly.yaml");
    v["metadata"]["uid"] = json!(UID);
    v["metadata"]["generation"] = json!(2);
    v["metadata"]["resourceVersion"] = json!("100");
    v["metadata"]["creationTimestamp"] = json!("2026-11-23T08:00:00Z");
    // Webhook alerts only where a test asks for them.
    v["spec"].as_object_mut().unwrap().remove("notifications");
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}

pub fn job(name: &str, scheduled: &str, condition: Option<(&str, &str)>) -> Value {
    let mut status = json!({"startTime": scheduled});
    if let Some((type_, reason)) = condition {
        status["conditions"] = json!([{"type": type_, "status": "True", "reason": reason,
            "message": "", "lastTransitionTime": "2026-11-23T10:02:00Z"}]);
        if type_ == "Complete" {
            status["completionTime"] = json!("2026-11-23T10:02:00Z");
        }
    }
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": name, "namespace": NS, "uid": format!("job-{name}"),
            "creationTimestamp": scheduled,
            "labels": {"tidemark.dev/policy": "webshop", "tidemark.dev/run-kind": "backup",
                       "app.kubernetes.io/managed-by": "tidemark-operator"},
            "annotations": {"tidemark.dev/scheduled-time": scheduled},
            "ownerReferences": [{"apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
                "name": "webshop", "uid": UID, "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {"template": {"spec": {"containers": []}}},
        "status": status,
    })
}

pub fn pod(job: &str, exit_code: i32, report: &RunnerReport) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{job}-abcde"), "namespace": NS,
            "creationTimestamp": "2026-11-23T10:00:01Z",
            "labels": {"job-name": job, "tidemark.dev/policy": "webshop",
                       "app.kubernetes.io/managed-by": "tidemark-operator"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job,
                "uid": format!("job-{job}"), "controller": true}]
        },
        "spec": {"containers": []},
        "status": {"phase": if exit_code == 0 {"Succeeded"} else {"Failed"},
            "containerStatuses": [{
                "name": "runner", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code,
                    "reason": if exit_code == 0 {"Completed"} else {"Error"},
                    "message": serde_json::to_string(report).unwrap(),
                    "startedAt": "2026-11-23T10:00:02Z", "finishedAt": "2026-11-23T10:01:40Z"}}
            }]}
    })
}

pub fn backup_report(ok: bool) -> RunnerReport {
    let mut r = RunnerReport::new(RunnerCommand::Backup, t("2026-11-23T10:00:02Z"), "0.1.0");
    r.finished_at = t("2026-11-23T10:01:40Z");
    if ok {
        r.backup = Some(BackupResult {
            key: "postgres/webshop/webshop/20261123T100002Z.dump.zst.age".into(),
            manifest_key: "postgres/webshop/webshop/20261123T100002Z.dump.zst.age.manifest.json"
                .into(),
            stored_size: 4 * 1024 * 1024,
            raw_size: 30 * 1024 * 1024,
            sha256: "cd".repeat(32),
            total_rows: 2000,
            table_count: 5,
            started_at: t("2026-11-23T10:00:02Z"),
            completed_at: t("2026-11-23T10:01:39Z"),
            duration_ms: 97_000,
            server_version: "15.4".into(),
            pg_dump_version: "15.4".into(),
            database: "webshop".into(),
            run_id: None,
            databases: Vec::new(),
            databases_omitted: 0,
        });
    } else {
        r.outcome = Outcome::Failed;
        r.error = Some(ReportedError {
            kind: ErrorKind::Runtime,
            reason: "PgConnectFailed".into(),
            message: "cannot connect to webshop-db.webshop.svc:5432: connection refused".into(),
        });
    }
    r
}

pub fn event_answer() -> Value {
    json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
           "metadata": {"name": "e", "namespace": NS}, "eventTime": "2026-11-23T10:00:00.000000Z"})
}

pub fn status_of(body: &Value) -> &Value {
    assert_eq!(body["apiVersion"], "tidemark.dev/v1alpha1");
    assert_eq!(body["kind"], "BackupPolicy");
    &body["status"]
}

/// A policy whose 10:00 backup finished (recorded as active), its Job and its pod with
/// the runner's report.
pub fn finished_backup() -> (BackupPolicy, Value, Value) {
    let p = policy(|v| {
        v["status"] = last_scheduled("2026-11-23T10:00:00Z");
        v["status"]["active"] = json!([{"name": "webshop-backup-202611231000", "kind": "backup"}]);
    });
    let done = job(
        "webshop-backup-202611231000",
        "2026-11-23T10:00:00Z",
        Some(("Complete", "CompletionsReached")),
    );
    let pod = pod("webshop-backup-202611231000", 0, &backup_report(true));
    (p, done, pod)
}

/// The prune Job that follows the 10:00 backup (as the API server answers its creation).
pub fn prune_job() -> Value {
    job(
        "webshop-backup-202611231000-prune",
        "2026-11-23T10:00:00Z",
        None,
    )
}

/// A list request `uri` selects the webshop policy's objects by label.
pub fn assert_selects_the_policy(uri: &str) {
    assert!(
        uri.contains("labelSelector=tidemark.dev%2Fpolicy%3Dwebshop"),
        "{uri}"
    );
}
