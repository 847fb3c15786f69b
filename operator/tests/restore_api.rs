//! API-call sequences of the RestoreRequest reconcile against kube's mock service
//! (tower-test): each reconcile's requests are scripted in order with the API server's
//! answers, and what was sent is checked — above all what is *not* sent (nothing is
//! scaled or created before the backup and the replica counts are in status).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use tidemark_crd::RestoreRequest;
use tidemark_crd::contract::result::{
    ErrorKind, Outcome, ReportedError, RunnerCommand, RunnerReport,
};
use tidemark_operator::metrics::Metrics;
use tidemark_operator::restore_request::reconcile::reconcile_at;
use tower_test::mock;

mod support;
use support::api::{Expect, condition, context, expect, list, not_found, serve};
use support::fixtures::example;

const NS: &str = "webshop";
const NAME: &str = "webshop-restore-latest";
const UID: &str = "7d2b4c1f-0000-4000-8000-000000000002";
const RR: &str =
    "/apis/tidemark.dev/v1alpha1/namespaces/webshop/restorerequests/webshop-restore-latest";
const RR_STATUS: &str =
    "/apis/tidemark.dev/v1alpha1/namespaces/webshop/restorerequests/webshop-restore-latest/status";
const POLICY: &str = "/apis/tidemark.dev/v1alpha1/namespaces/webshop/backuppolicies/webshop";
const JOBS: &str = "/apis/batch/v1/namespaces/webshop/jobs";
const PODS: &str = "/api/v1/namespaces/webshop/pods";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/webshop/events";
const BACKEND: &str = "/apis/apps/v1/namespaces/webshop/deployments/webshop-backend";
const WORKER: &str = "/apis/apps/v1/namespaces/webshop/deployments/webshop-worker";
const NEWEST: &str = "postgres/webshop/webshop/20261123T090000Z.dump.zst.age";

fn request(status: Value) -> RestoreRequest {
    let mut v: Value = example("restore-latest.yaml");
    v["metadata"]["uid"] = json!(UID);
    v["metadata"]["generation"] = json!(1);
    v["metadata"]["resourceVersion"] = json!("100");
    v["metadata"]["creationTimestamp"] = json!("2026-11-23T10:29:00Z");
    v["metadata"]["finalizers"] = json!(["tidemark.dev/restart-writers"]);
    if !status.is_null() {
        v["status"] = status;
    }
    serde_json::from_value(v).unwrap()
}

fn policy() -> Value {
    let mut v: Value = example("webshop-hourly.yaml");
    v["metadata"]["uid"] = json!("5d1c7a36-0000-4000-8000-000000000001");
    v["status"] = json!({
        "backups": [
            {"key": NEWEST, "completedAt": "2026-11-23T09:00:40Z", "storedBytes": 4096,
             "sha256": "ab".repeat(32)},
            {"key": "postgres/webshop/webshop/20261123T080000Z.dump.zst.age",
             "completedAt": "2026-11-23T08:00:40Z", "storedBytes": 4000, "sha256": "cd".repeat(32)}
        ],
        "backupCount": 2
    });
    v
}

/// One reconcile of `rr` (whose fresh copy is the first answer) against `script`.
async fn reconcile(rr: &RestoreRequest, script: Vec<Expect>) -> (Action, Vec<(String, Value)>) {
    let mut full = vec![expect(Method::GET, RR, serde_json::to_value(rr).unwrap())];
    full.extend(script.into_iter().map(|mut e| {
        if e.answer.is_null() {
            // Status writes answer with the request itself.
            e.answer = serde_json::to_value(rr).unwrap();
        }
        e
    }));
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let metrics = Metrics::new();
    let server = tokio::spawn(serve(handle, full));
    let now = "2026-11-23T10:30:00Z".parse().unwrap();
    let action = reconcile_at(rr, &ctx, &metrics, now).await.unwrap();
    drop(ctx);
    let mut seen = server.await.unwrap();
    seen.remove(0);
    (action, seen)
}

/// The status a status write sent.
fn sent_status(seen: &(String, Value)) -> Value {
    assert!(
        seen.0.contains("fieldManager=tidemark-operator"),
        "{}",
        seen.0
    );
    assert_eq!(seen.1["kind"], "RestoreRequest");
    seen.1["status"].clone()
}

fn deployment(name: &str, replicas: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {}}})
}

/// A reconcile's reads of the two writers: each Deployment with its `(replicas, pods)`.
fn read_writers(backend: (i32, usize), worker: (i32, usize)) -> Vec<Expect> {
    vec![
        expect(
            Method::GET,
            BACKEND,
            deployment("webshop-backend", backend.0),
        ),
        expect(Method::GET, PODS, pods("webshop-backend", backend.1)),
        expect(Method::GET, WORKER, deployment("webshop-worker", worker.0)),
        expect(Method::GET, PODS, pods("webshop-worker", worker.1)),
    ]
}

fn pods(name: &str, n: usize) -> Value {
    let items = (0..n)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": format!("{name}-{i}"), "namespace": NS,
                                     "labels": {"app": name}}})
        })
        .collect();
    list("Pod", items)
}

fn event_answer() -> Value {
    json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
           "metadata": {"name": "e", "namespace": NS}, "eventTime": "2026-11-23T10:30:00.000000Z"})
}

fn restore_job(condition: Option<(&str, &str)>) -> Value {
    let mut status = json!({"startTime": "2026-11-23T10:30:10Z"});
    if let Some((type_, reason)) = condition {
        status["conditions"] = json!([{"type": type_, "status": "True", "reason": reason,
            "message": "", "lastTransitionTime": "2026-11-23T10:31:00Z"}]);
    }
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": "webshop-restore-latest-restore", "namespace": NS, "uid": "job-1",
            "labels": {"tidemark.dev/restore-request": NAME, "tidemark.dev/run-kind": "restore",
                       "app.kubernetes.io/managed-by": "tidemark-operator"},
            "ownerReferences": [{"apiVersion": "tidemark.dev/v1alpha1", "kind": "RestoreRequest",
                "name": NAME, "uid": UID, "controller": true}]
        },
        "spec": {"template": {"spec": {"containers": []}}},
        "status": status,
    })
}

fn runner_pod(report: &RunnerReport, exit_code: i32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "webshop-restore-latest-restore-abcde", "namespace": NS,
            "labels": {"job-name": "webshop-restore-latest-restore"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                "name": "webshop-restore-latest-restore", "uid": "job-1", "controller": true}]
        },
        "spec": {"containers": []},
        "status": {"phase": "Failed", "containerStatuses": [{
            "name": "runner", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
                "message": serde_json::to_string(report).unwrap(),
                "startedAt": "2026-11-23T10:30:11Z", "finishedAt": "2026-11-23T10:31:00Z"}}}]}
    })
}

#[tokio::test]
async fn resolves_from_the_inventory_saves_replicas_scales_down_then_creates_the_restore_job() {
    // Pending: our finalizer first (writers are never left stopped by a deletion), then
    // the clock starts; nothing is read but the policy.
    let mut fresh = request(Value::Null);
    fresh.metadata.finalizers = None;
    let rr = request(Value::Null);
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let server = tokio::spawn(serve(
        handle,
        vec![
            expect(Method::GET, RR, serde_json::to_value(&fresh).unwrap()),
            expect(Method::PATCH, RR, serde_json::to_value(&rr).unwrap()),
            expect(Method::GET, POLICY, policy()),
            expect(Method::PATCH, RR_STATUS, serde_json::to_value(&rr).unwrap()),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    ));
    reconcile_at(
        &fresh,
        &ctx,
        &Metrics::new(),
        "2026-11-23T10:30:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    drop(ctx);
    let seen = server.await.unwrap();
    assert_eq!(
        seen[1].1,
        json!({"metadata": {"finalizers": ["tidemark.dev/restart-writers"], "resourceVersion": "100"}})
    );
    let status = sent_status(&seen[3]);
    assert_eq!(status["phase"], "Resolving");
    assert_eq!(status["startedAt"], "2026-11-23T10:30:00Z");

    // Resolving: the backup comes from the inventory and is written down — nothing else.
    let rr = request(status);
    let (action, seen) = reconcile(
        &rr,
        vec![
            expect(Method::GET, POLICY, policy()),
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, RR_STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    assert!(
        seen[1]
            .0
            .contains("labelSelector=tidemark.dev%2Frestore-request%3Dwebshop-restore-latest"),
        "{}",
        seen[1].0
    );
    let status = sent_status(&seen[2]);
    assert_eq!(status["phase"], "StoppingWriters");
    assert_eq!(status["resolvedBackup"]["key"], NEWEST);
    assert_eq!(status["resolvedBackup"]["sha256"], "ab".repeat(32));
    assert_eq!(
        status["resolvedBackup"]["completedAt"],
        "2026-11-23T09:00:40Z"
    );
    assert!(status.get("writers").is_none());
    assert_eq!(seen[3].1["reason"], "BackupResolved");
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));

    // StoppingWriters: replicas saved in the status write, then both scaled to zero.
    let rr = request(status);
    let (_, seen) = reconcile(
        &rr,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![])),
            ],
            read_writers((3, 3), (2, 2)),
            vec![
                expect(Method::PATCH, RR_STATUS, Value::Null),
                expect(Method::PATCH, BACKEND, deployment("webshop-backend", 0)),
                expect(Method::PATCH, WORKER, deployment("webshop-worker", 0)),
                expect(Method::POST, EVENTS, event_answer()),
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        seen[3].0.contains("labelSelector=app%3Dwebshop-backend"),
        "{}",
        seen[3].0
    );
    let status = sent_status(&seen[6]);
    assert_eq!(
        status["writers"],
        json!([
            {"kind": "Deployment", "name": "webshop-backend", "previousReplicas": 3, "restarted": false},
            {"kind": "Deployment", "name": "webshop-worker", "previousReplicas": 2, "restarted": false}
        ])
    );
    assert_eq!(seen[7].1, json!({"spec": {"replicas": 0}}));
    assert_eq!(seen[8].1, json!({"spec": {"replicas": 0}}));

    // Pods still terminating: wait, no restore yet.
    let rr = request(status);
    let (action, seen) = reconcile(
        &rr,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![])),
            ],
            read_writers((0, 1), (0, 0)),
            vec![expect(Method::PATCH, RR_STATUS, Value::Null)],
        ]
        .concat(),
    )
    .await;
    let status = sent_status(&seen[6]);
    assert_eq!(status["phase"], "StoppingWriters");
    assert_eq!(action, Action::requeue(Duration::from_secs(2)));

    // Pods gone: Restoring.
    let rr = request(status);
    let (_, seen) = reconcile(
        &rr,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![])),
            ],
            read_writers((0, 0), (0, 0)),
            vec![expect(Method::PATCH, RR_STATUS, Value::Null)],
        ]
        .concat(),
    )
    .await;
    let status = sent_status(&seen[6]);
    assert_eq!(status["phase"], "Restoring");

    // Restoring: the restore Job for the resolved key.
    let rr = request(status);
    let (_, seen) = reconcile(
        &rr,
        vec![
            expect(Method::GET, POLICY, policy()),
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, RR_STATUS, Value::Null),
            Expect {
                status: 201,
                ..expect(Method::POST, JOBS, restore_job(None))
            },
        ],
    )
    .await;
    let job = &seen[3].1;
    assert_eq!(job["metadata"]["name"], "webshop-restore-latest-restore");
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], UID);
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["restore"]));
    let env = container["env"].as_array().unwrap();
    let var = |n: &str| env.iter().find(|e| e["name"] == n).cloned().unwrap();
    assert_eq!(var("TIDEMARK_BACKUP_KEY")["value"], NEWEST);
    assert_eq!(
        var("TIDEMARK_AGE_IDENTITY")["valueFrom"]["secretKeyRef"],
        json!({"name": "webshop-backup-identity", "key": "identity", "optional": false})
    );
}

#[tokio::test]
async fn a_failed_restore_job_restores_the_writers_and_ends_failed() {
    let saved = json!({
        "phase": "Restoring",
        "startedAt": "2026-11-23T10:29:30Z",
        "phaseTimings": [{"phase": "Restoring", "startedAt": "2026-11-23T10:29:50Z"}],
        "resolvedBackup": {"key": NEWEST, "completedAt": "2026-11-23T09:00:40Z", "sha256": "ab"},
        "writers": [
            {"kind": "Deployment", "name": "webshop-backend", "previousReplicas": 3, "restarted": false},
            {"kind": "Deployment", "name": "webshop-worker", "previousReplicas": 2, "restarted": false}
        ],
        "jobs": {"restore": "webshop-restore-latest-restore"}
    });
    let mut report = RunnerReport::new(
        RunnerCommand::Restore,
        "2026-11-23T10:30:11Z".parse().unwrap(),
        "0.1.0",
    );
    report.outcome = Outcome::Failed;
    report.error = Some(ReportedError {
        kind: ErrorKind::Check,
        reason: "CorruptBackup".into(),
        message: "decompressing the backup failed; nothing was committed".into(),
    });
    let failed_job = restore_job(Some(("Failed", "BackoffLimitExceeded")));
    let pods_of_job = list("Pod", vec![runner_pod(&report, 3)]);

    // The failure is recorded; the finished Job is left alone; writers come next.
    let rr = request(saved);
    let (_, seen) = reconcile(
        &rr,
        vec![
            expect(Method::GET, POLICY, policy()),
            expect(Method::GET, JOBS, list("Job", vec![failed_job.clone()])),
            expect(Method::GET, PODS, pods_of_job.clone()),
            expect(Method::PATCH, RR_STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let status = sent_status(&seen[3]);
    assert_eq!(status["phase"], "RestartingWriters");
    assert_eq!(status["reason"], "CorruptBackup");
    assert_eq!(condition(&status, "Succeeded")["status"], "False");
    assert_eq!(seen[4].1["type"], "Warning");

    // The saved counts go back.
    let rr = request(status);
    let (_, seen) = reconcile(
        &rr,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![failed_job.clone()])),
                expect(Method::GET, PODS, pods_of_job.clone()),
            ],
            read_writers((0, 0), (0, 0)),
            vec![
                expect(Method::PATCH, BACKEND, deployment("webshop-backend", 3)),
                expect(Method::PATCH, WORKER, deployment("webshop-worker", 2)),
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(seen[7].1, json!({"spec": {"replicas": 3}}));
    assert_eq!(seen[8].1, json!({"spec": {"replicas": 2}}));

    // Back at their counts: Failed, for good.
    let (action, seen) = reconcile(
        &rr,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![failed_job])),
                expect(Method::GET, PODS, pods_of_job),
            ],
            read_writers((3, 3), (2, 2)),
            vec![
                expect(Method::PATCH, RR_STATUS, Value::Null),
                expect(Method::PATCH, RR, Value::Null),
                expect(Method::POST, EVENTS, event_answer()),
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        seen[8].1,
        json!({"metadata": {"finalizers": [], "resourceVersion": "100"}}),
        "the finished request lets go"
    );
    let status = sent_status(&seen[7]);
    assert_eq!(status["phase"], "Failed");
    assert_eq!(status["writers"][0]["restarted"], true);
    assert_eq!(status["writers"][1]["restarted"], true);
    let message = status["message"].as_str().unwrap();
    assert!(message.starts_with("backup (the stored object is damaged): restore Job webshop-restore-latest-restore failed (CorruptBackup, exit code 3)"), "{message}");
    assert!(status["durationSeconds"].as_f64().unwrap() > 0.0);
    assert_eq!(action, Action::await_change());

    // A finished request: one read, nothing else.
    let mut rr = request(status);
    rr.metadata.finalizers = None;
    let (action, seen) = reconcile(&rr, vec![]).await;
    assert!(seen.is_empty());
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn an_unknown_policy_fails_without_touching_anything() {
    let rr = request(json!({
        "phase": "Resolving",
        "startedAt": "2026-11-23T10:29:58Z",
        "phaseTimings": [{"phase": "Resolving", "startedAt": "2026-11-23T10:29:58Z"}]
    }));
    let (action, seen) = reconcile(
        &rr,
        vec![
            not_found(Method::GET, POLICY),
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, RR_STATUS, Value::Null),
            expect(Method::PATCH, RR, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let status = sent_status(&seen[2]);
    assert_eq!(status["phase"], "Failed");
    assert_eq!(status["reason"], "PolicyNotFound");
    assert_eq!(
        status["message"],
        "source.policyRef.name: BackupPolicy \"webshop\" not found in namespace \"webshop\""
    );
    assert!(status.get("writers").is_none());
    assert!(status.get("resolvedBackup").is_none());
    assert_eq!(condition(&status, "Succeeded")["reason"], "PolicyNotFound");
    assert_eq!(seen[4].1["type"], "Warning");
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_deleted_request_is_left_alone() {
    let rr = request(Value::Null);
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let server = tokio::spawn(serve(handle, vec![not_found(Method::GET, RR)]));
    let action = reconcile_at(
        &rr,
        &ctx,
        &Metrics::new(),
        "2026-11-23T10:30:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    drop(ctx);
    server.await.unwrap();
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn restore_metrics_count_the_outcome_and_duration() {
    let rr = request(json!({
        "phase": "Resolving",
        "startedAt": "2026-11-23T10:29:58Z",
        "phaseTimings": [{"phase": "Resolving", "startedAt": "2026-11-23T10:29:58Z"}]
    }));
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let metrics = Metrics::new();
    let rr_json = serde_json::to_value(&rr).unwrap();
    let server = tokio::spawn(serve(
        handle,
        vec![
            expect(Method::GET, RR, rr_json.clone()),
            not_found(Method::GET, POLICY),
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, RR_STATUS, rr_json.clone()),
            expect(Method::PATCH, RR, rr_json),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    ));
    reconcile_at(&rr, &ctx, &metrics, "2026-11-23T10:30:00Z".parse().unwrap())
        .await
        .unwrap();
    drop(ctx);
    server.await.unwrap();
    let text = metrics.render().unwrap();
    assert!(
        text.contains("tidemark_restores_total{namespace=\"webshop\",outcome=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tidemark_restore_duration_seconds_sum{namespace=\"webshop\"} 2.0"),
        "{text}"
    );
}

#[tokio::test]
async fn deleting_an_unfinished_request_stops_the_job_restarts_writers_then_lets_go() {
    let saved = json!({
        "phase": "Restoring",
        "startedAt": "2026-11-23T10:29:30Z",
        "phaseTimings": [{"phase": "Restoring", "startedAt": "2026-11-23T10:29:50Z"}],
        "resolvedBackup": {"key": NEWEST, "completedAt": "2026-11-23T09:00:40Z", "sha256": "ab"},
        "writers": [
            {"kind": "Deployment", "name": "webshop-backend", "previousReplicas": 3, "restarted": false},
            {"kind": "Deployment", "name": "webshop-worker", "previousReplicas": 2, "restarted": false}
        ],
        "jobs": {"restore": "webshop-restore-latest-restore"}
    });
    let mut rr = request(saved);
    rr.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-11-23T10:30:00Z".parse().unwrap(),
    ));
    let running = restore_job(None);
    let (_, seen) = reconcile(
        &rr,
        vec![
            expect(Method::GET, POLICY, policy()),
            expect(Method::GET, JOBS, list("Job", vec![running.clone()])),
            expect(Method::GET, PODS, list("Pod", vec![])),
            expect(Method::PATCH, RR_STATUS, Value::Null),
            expect(
                Method::DELETE,
                "/apis/batch/v1/namespaces/webshop/jobs/webshop-restore-latest-restore",
                running.clone(),
            ),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let status = sent_status(&seen[3]);
    assert_eq!(status["phase"], "RestartingWriters");
    assert_eq!(status["reason"], "Deleted");
    assert_eq!(seen[4].1["propagationPolicy"], "Foreground");

    // Job gone, writers back, then the finalizer goes.
    let mut rr2 = request(status);
    rr2.metadata.deletion_timestamp = rr.metadata.deletion_timestamp.clone();
    let (_, seen) = reconcile(
        &rr2,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![])),
            ],
            read_writers((0, 0), (0, 0)),
            vec![
                expect(Method::PATCH, BACKEND, deployment("webshop-backend", 3)),
                expect(Method::PATCH, WORKER, deployment("webshop-worker", 2)),
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(seen[6].1, json!({"spec": {"replicas": 3}}));
    let (_, seen) = reconcile(
        &rr2,
        [
            vec![
                expect(Method::GET, POLICY, policy()),
                expect(Method::GET, JOBS, list("Job", vec![])),
            ],
            read_writers((3, 3), (2, 2)),
            vec![
                expect(Method::PATCH, RR_STATUS, Value::Null),
                expect(Method::PATCH, RR, Value::Null),
                expect(Method::POST, EVENTS, event_answer()),
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(sent_status(&seen[6])["phase"], "Failed");
    assert_eq!(seen[7].1["metadata"]["finalizers"], json!([]));
}
