//! API-call sequences of the BackupPolicy reconcile against kube's mock service
//! (tower-test): each test scripts the requests the reconcile must make, in order, and
//! the API server's answers, and checks what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use http::{Method, Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use tidemark_crd::BackupPolicy;
use tidemark_operator::backup_policy::reconcile::{PolicyState, WAKE_SLACK, reconcile_policy};
use tidemark_operator::metrics::Metrics;
use tower_test::mock;

mod support;
use support::api::{Expect, condition, context, expect, list, serve};
use support::policy::*;

async fn run(p: BackupPolicy, now: &str, script: Vec<Expect>) -> (Action, Vec<(String, Value)>) {
    let (action, seen, _) = run_with_metrics(p, now, script).await;
    (action, seen)
}

async fn run_with_metrics(
    p: BackupPolicy,
    now: &str,
    mut script: Vec<Expect>,
) -> (Action, Vec<(String, Value)>, String) {
    // The status write answers with the policy itself.
    for e in &mut script {
        if e.answer.is_null() {
            e.answer = serde_json::to_value(&p).unwrap();
        }
    }
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let state = PolicyState::new(context(client), std::sync::Arc::new(Metrics::new()));
    let server = tokio::spawn(serve(handle, script));
    let action = reconcile_policy(&p, &state, t(now)).await.unwrap();
    let metrics = state.metrics.render().unwrap();
    drop(state);
    (action, server.await.unwrap(), metrics)
}

#[tokio::test]
async fn creates_the_backup_job_at_the_tick() {
    let p = policy(|v| v["status"] = last_scheduled("2026-11-23T09:00:00Z"));
    let created = job("webshop-backup-202611231000", "2026-11-23T10:00:00Z", None);
    let (action, seen) = run(
        p,
        "2026-11-23T10:00:00.200Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![])),
            Expect {
                status: 201,
                ..expect(Method::POST, JOBS, created)
            },
            expect(Method::POST, EVENTS, event_answer()),
            expect(Method::PATCH, STATUS, Value::Null),
        ],
    )
    .await;
    assert_selects_the_policy(&seen[0].0);
    let job = &seen[1].1;
    assert_eq!(job["metadata"]["name"], "webshop-backup-202611231000");
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], UID);
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/tidemark-dev/tidemark-runner:test"
    );
    let event = &seen[2].1;
    assert_eq!(event["reason"], "BackupStarted");
    assert_eq!(event["type"], "Normal");
    assert!(
        seen[3].0.contains("fieldManager=tidemark-operator"),
        "{}",
        seen[3].0
    );
    assert!(seen[3].0.contains("force=true"), "{}", seen[3].0);
    let status = status_of(&seen[3].1);
    assert_eq!(status["lastScheduleTime"], "2026-11-23T10:00:00Z");
    assert_eq!(status["nextScheduleTime"], "2026-11-23T11:00:00Z");
    assert_eq!(status["active"][0]["name"], "webshop-backup-202611231000");
    assert_eq!(status["observedGeneration"], 2);
    assert_eq!(condition(status, "Ready")["status"], "True");
    // Next look: the Job runs, so its pod is looked at in 30 s (the next tick, 11:00,
    // comes later).
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(30) + WAKE_SLACK)
    );
}

#[tokio::test]
async fn an_existing_job_is_not_a_failure() {
    // Another replica created the Job first: AlreadyExists, no event, status as usual.
    let p = policy(|v| v["status"] = last_scheduled("2026-11-23T09:00:00Z"));
    let (_, seen) = run(
        p,
        "2026-11-23T10:00:01Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![])),
            Expect {
                status: 409,
                ..expect(
                    Method::POST,
                    JOBS,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": "AlreadyExists", "code": 409,
                           "message": "jobs.batch \"webshop-backup-202611231000\" already exists"}),
                )
            },
            expect(Method::PATCH, STATUS, Value::Null),
        ],
    )
    .await;
    assert_eq!(
        status_of(&seen[2].1)["active"][0]["name"],
        "webshop-backup-202611231000"
    );
}

#[tokio::test]
async fn skips_the_tick_while_the_previous_backup_is_active() {
    let p = policy(|v| v["status"] = last_scheduled("2026-11-23T10:00:00Z"));
    let running = job("webshop-backup-202611231000", "2026-11-23T10:00:00Z", None);
    let (_, seen) = run(
        p,
        "2026-11-23T11:00:01Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![running])),
            expect(Method::GET, PODS, list("Pod", vec![])),
            expect(Method::PATCH, STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let status = status_of(&seen[2].1);
    assert_eq!(status["lastSkipped"]["reason"], "PreviousRunActive");
    assert_eq!(
        status["lastSkipped"]["scheduledTime"],
        "2026-11-23T11:00:00Z"
    );
    assert_eq!(status["lastScheduleTime"], "2026-11-23T11:00:00Z");
    assert_eq!(seen[3].1["reason"], "RunSkipped");
    assert_eq!(seen[3].1["type"], "Warning");
}

#[tokio::test]
async fn records_a_successful_backup_and_starts_retention() {
    let (p, done, pod) = finished_backup();
    let (_, seen) = run(
        p,
        "2026-11-23T10:02:05Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![done])),
            expect(Method::GET, PODS, list("Pod", vec![pod])),
            Expect {
                status: 201,
                ..expect(Method::POST, JOBS, prune_job())
            },
            expect(Method::POST, EVENTS, event_answer()),
            expect(Method::PATCH, STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    assert_eq!(
        seen[2].1["metadata"]["name"],
        "webshop-backup-202611231000-prune"
    );
    assert_eq!(
        seen[2].1["spec"]["template"]["spec"]["containers"][0]["args"][0],
        "prune"
    );
    assert_eq!(seen[3].1["reason"], "PruneStarted");
    let status = status_of(&seen[4].1);
    let last = &status["lastBackup"];
    assert_eq!(
        last["key"],
        "postgres/webshop/webshop/20261123T100002Z.dump.zst.age"
    );
    assert_eq!(last["size"], "4.0 MiB");
    assert_eq!(last["jobName"], "webshop-backup-202611231000");
    assert_eq!(status["backupCount"], 1);
    assert_eq!(status["consecutiveFailures"], 0);
    assert_eq!(
        status["recordedJobs"],
        json!(["webshop-backup-202611231000"])
    );
    assert_eq!(condition(status, "LastBackupSucceeded")["status"], "True");
    assert_eq!(condition(status, "BackupFresh")["status"], "True");
    assert_eq!(
        status["active"],
        json!([{"name": "webshop-backup-202611231000-prune", "kind": "prune",
                "scheduledTime": "2026-11-23T10:00:00Z"}])
    );
    assert_eq!(seen[5].1["reason"], "BackupSucceeded");
    assert!(
        seen[5].1["note"]
            .as_str()
            .unwrap()
            .contains("20261123T100002Z"),
        "{}",
        seen[5].1["note"]
    );
}

#[tokio::test]
async fn records_a_failed_backup_without_retention() {
    let p = policy(|v| {
        v["spec"]["notifications"] =
            json!({"webhookUrlSecretRef": {"name": "webshop-alerts", "key": "webhook-url"}});
        v["status"] = last_scheduled("2026-11-23T10:00:00Z");
        v["status"]["consecutiveFailures"] = json!(1);
    });
    let failed = job(
        "webshop-backup-202611231000",
        "2026-11-23T10:00:00Z",
        Some(("Failed", "BackoffLimitExceeded")),
    );
    let report = backup_report(false);
    let (_, seen, metrics) = run_with_metrics(
        p,
        "2026-11-23T10:02:05Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![failed])),
            expect(
                Method::GET,
                PODS,
                list("Pod", vec![pod("webshop-backup-202611231000", 1, &report)]),
            ),
            expect(Method::PATCH, STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
            // The BackupFailed alert reads the webhook Secret, which is missing: a Warning
            // event says so, and the reconcile still succeeds.
            Expect {
                status: 404,
                ..expect(
                    Method::GET,
                    "/api/v1/namespaces/webshop/secrets/webshop-alerts",
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": "NotFound", "code": 404,
                           "message": "secrets \"webshop-alerts\" not found"}),
                )
            },
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    assert_eq!(seen[5].1["reason"], "AlertFailed");
    assert!(
        seen[5].1["note"]
            .as_str()
            .unwrap()
            .contains("webshop-alerts"),
        "{}",
        seen[5].1["note"]
    );
    // The failures as the status holds them, and the run counted.
    for series in [
        r#"tidemark_backup_consecutive_failures{namespace="webshop",policy="webshop"} 2.0"#,
        r#"tidemark_runs_total{namespace="webshop",policy="webshop",kind="backup",outcome="failed"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "no {series} in\n{metrics}"
        );
    }
    assert!(
        metrics.lines().any(|l| l.starts_with(
            r#"tidemark_last_failure_timestamp_seconds{namespace="webshop",policy="webshop",kind="backup",reason="PgConnectFailed"} "#
        )),
        "{metrics}"
    );
    let status = status_of(&seen[2].1);
    assert_eq!(status["consecutiveFailures"], 2);
    assert_eq!(status["lastFailure"]["reason"], "PgConnectFailed");
    assert_eq!(status["lastFailure"]["kind"], "backup");
    assert_eq!(status["lastFailure"]["exitCode"], 1);
    assert!(status.get("lastBackup").is_none());
    assert_eq!(
        status["active"],
        json!([]),
        "an emptied list is sent to clear it"
    );
    let c = condition(status, "LastBackupSucceeded");
    assert_eq!(c["status"], "False");
    assert_eq!(c["reason"], "PgConnectFailed");
    assert_eq!(seen[3].1["reason"], "BackupFailed");
    assert_eq!(seen[3].1["type"], "Warning");
}

#[tokio::test]
async fn an_invalid_spec_sets_ready_false_and_waits_for_a_change() {
    let p = policy(|v| v["spec"]["schedule"] = json!("every hour"));
    let (action, seen) = run(
        p,
        "2026-11-23T10:00:00Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let status = status_of(&seen[1].1);
    let ready = condition(status, "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InvalidSchedule");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .starts_with("spec.schedule: "),
        "{}",
        ready["message"]
    );
    assert_eq!(ready["observedGeneration"], 2);
    assert!(status.get("nextScheduleTime").is_none());
    assert_eq!(seen[2].1["reason"], "InvalidSchedule");
    assert_eq!(seen[2].1["type"], "Warning");
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn an_unchanged_status_is_not_written_again() {
    // Same invalid policy, already reported: one read, nothing written, no new event.
    let p = policy(|v| v["spec"]["timeZone"] = json!("Mars/Olympus"));
    let (_, seen) = run(
        p.clone(),
        "2026-11-23T10:00:00Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, STATUS, Value::Null),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let mut again = p;
    again.status = Some(serde_json::from_value(status_of(&seen[1].1).clone()).unwrap());
    let (action, _) = run(
        again,
        "2026-11-23T10:05:00Z",
        vec![expect(Method::GET, JOBS, list("Job", vec![]))],
    )
    .await;
    assert_eq!(action, Action::await_change());
}

const POLICY: &str = "/apis/tidemark.dev/v1alpha1/namespaces/webshop/backuppolicies/webshop";

async fn reconcile_once(p: BackupPolicy, script: Vec<Expect>) -> (Action, Vec<(String, Value)>) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let state = PolicyState::new(context(client), std::sync::Arc::new(Metrics::new()));
    let server = tokio::spawn(serve(handle, script));
    let action = tidemark_operator::backup_policy::reconcile::reconcile(
        std::sync::Arc::new(p),
        state.clone(),
    )
    .await
    .unwrap();
    drop(state);
    (action, server.await.unwrap())
}

fn deleting(v: &mut Value) {
    v["spec"]["deletionPolicy"] = json!("Delete");
    v["metadata"]["finalizers"] = json!(["tidemark.dev/purge"]);
    v["metadata"]["deletionTimestamp"] = json!("2026-11-23T12:00:00Z");
}

#[tokio::test]
async fn delete_policy_adds_the_purge_finalizer_first() {
    let p = policy(|v| {
        v["spec"]["deletionPolicy"] = json!("Delete");
        v["metadata"]["finalizers"] = json!(["example.com/other"]);
    });
    let answer = serde_json::to_value(&p).unwrap();
    let (action, seen) = reconcile_once(p, vec![expect(Method::PATCH, POLICY, answer)]).await;
    assert_eq!(
        seen[0].1,
        json!({"metadata": {"finalizers": ["example.com/other", "tidemark.dev/purge"],
                            "resourceVersion": "100"}})
    );
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_deleted_delete_policy_starts_the_purge_job_and_waits() {
    let p = policy(deleting);
    let (action, seen) = reconcile_once(
        p,
        vec![
            expect(Method::GET, JOBS, list("Job", vec![])),
            Expect {
                status: 201,
                ..expect(
                    Method::POST,
                    JOBS,
                    job("webshop-purge", "2026-11-23T12:00:00Z", None),
                )
            },
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    let job = &seen[1].1;
    assert_eq!(job["metadata"]["name"], "webshop-purge");
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "TIDEMARK_PRUNE_ALL" && e["value"] == "true"),
        "{env:?}"
    );
    assert_eq!(seen[2].1["reason"], "PurgeStarted");
    assert_eq!(action, Action::await_change(), "the Job's changes wake it");
}

#[tokio::test]
async fn a_finished_purge_releases_the_finalizer() {
    let p = policy(deleting);
    let answer = serde_json::to_value(&p).unwrap();
    let done = job(
        "webshop-purge",
        "2026-11-23T12:00:00Z",
        Some(("Complete", "CompletionsReached")),
    );
    let (_, seen) = reconcile_once(
        p,
        vec![
            expect(Method::GET, JOBS, list("Job", vec![done])),
            expect(Method::GET, PODS, list("Pod", vec![])),
            expect(Method::POST, EVENTS, event_answer()),
            expect(Method::PATCH, POLICY, answer),
        ],
    )
    .await;
    assert_eq!(seen[2].1["reason"], "PurgeSucceeded");
    assert_eq!(
        seen[3].1,
        json!({"metadata": {"finalizers": [], "resourceVersion": "100"}})
    );
}

#[tokio::test]
async fn a_failed_purge_keeps_the_policy_and_says_why() {
    let p = policy(deleting);
    let failed = job(
        "webshop-purge",
        "2026-11-23T12:00:00Z",
        Some(("Failed", "BackoffLimitExceeded")),
    );
    let (action, seen) = reconcile_once(
        p,
        vec![
            expect(Method::GET, JOBS, list("Job", vec![failed])),
            expect(Method::GET, PODS, list("Pod", vec![])),
            expect(Method::POST, EVENTS, event_answer()),
        ],
    )
    .await;
    assert_eq!(seen[2].1["reason"], "PurgeFailed");
    assert_eq!(seen[2].1["type"], "Warning");
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn switching_to_retain_removes_our_finalizer_only() {
    let p = policy(|v| {
        v["metadata"]["finalizers"] = json!(["tidemark.dev/purge", "example.com/other"]);
    });
    let answer = serde_json::to_value(&p).unwrap();
    let (_, seen) = reconcile_once(p, vec![expect(Method::PATCH, POLICY, answer)]).await;
    assert_eq!(
        seen[0].1,
        json!({"metadata": {"finalizers": ["example.com/other"], "resourceVersion": "100"}})
    );
}

#[tokio::test]
async fn an_idle_policy_sleeps_until_its_next_tick() {
    let p = policy(|v| v["status"] = last_scheduled("2026-11-23T10:00:00Z"));
    let (action, seen) = run(
        p,
        "2026-11-23T10:30:00Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![])),
            expect(Method::PATCH, STATUS, Value::Null),
        ],
    )
    .await;
    let status = status_of(&seen[1].1);
    assert_eq!(status["nextScheduleTime"], "2026-11-23T11:00:00Z");
    assert_eq!(condition(status, "BackupFresh")["reason"], "NoBackup");
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(30 * 60) + WAKE_SLACK)
    );
}

#[tokio::test]
async fn a_pod_that_cannot_start_shows_in_ready() {
    // A missing credentials Secret: the kubelet keeps the runner waiting with
    // CreateContainerConfigError; the operator says so without reading the Secret.
    let p = policy(|v| v["status"] = last_scheduled("2026-11-23T10:00:00Z"));
    let running = job("webshop-backup-202611231000", "2026-11-23T10:00:00Z", None);
    let mut waiting = pod("webshop-backup-202611231000", 0, &backup_report(true));
    waiting["status"] = json!({"phase": "Pending", "containerStatuses": [{
        "name": "runner", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "CreateContainerConfigError",
                              "message": "secret \"webshop-db\" not found"}}}]});
    let (action, seen) = run(
        p,
        "2026-11-23T10:01:00Z",
        vec![
            expect(Method::GET, JOBS, list("Job", vec![running])),
            expect(Method::GET, PODS, list("Pod", vec![waiting])),
            expect(Method::PATCH, STATUS, Value::Null),
        ],
    )
    .await;
    let ready = condition(status_of(&seen[2].1), "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "CreateContainerConfigError");
    assert_eq!(
        ready["message"],
        "Job webshop-backup-202611231000: CreateContainerConfigError: secret \"webshop-db\" not found"
    );
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(30) + WAKE_SLACK)
    );
}
