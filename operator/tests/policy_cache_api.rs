//! The BackupPolicy reconcile reading its Jobs and pods from the watch caches, against
//! kube's mock service (tower-test): no list requests once the caches are ready, the
//! API only when a finished Job's pod end is not cached yet, and no second recording
//! when the next reconcile starts from a policy the watch has not updated yet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::{Method, Request, Response};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::watcher::Event;
use serde_json::{Value, json};
use tidemark_crd::BackupPolicy;
use tidemark_operator::backup_policy::reconcile::{PolicyState, reconcile_policy};
use tidemark_operator::metrics::Metrics;
use tidemark_operator::runtime::job_cache::{JobCache, ScopeCache, strip_job, strip_pod};
use tidemark_operator::runtime::owned_index::OwnedIndex;
use tower_test::mock;

mod support;
use support::api::{Expect, condition, context, echo_status, expect, list, serve};
use support::policy::*;

/// Fills `index` with a complete list of `objects`, stripped as the watch streams do.
fn fill<K>(index: &OwnedIndex<K>, objects: Vec<Value>, strip: fn(&mut K))
where
    K: kube::ResourceExt + Clone + serde::de::DeserializeOwned,
{
    index.apply(&Event::Init);
    for o in objects {
        let mut obj: K = serde_json::from_value(o).unwrap();
        strip(&mut obj);
        index.apply(&Event::InitApply(obj));
    }
    index.apply(&Event::InitDone);
}

/// A ready cache holding `jobs` and `pods`.
fn cache(jobs: Vec<Value>, pods: Vec<Value>) -> JobCache {
    let scope = ScopeCache::new(None);
    fill::<Job>(&scope.jobs, jobs, strip_job);
    fill::<Pod>(&scope.pods, pods, strip_pod);
    JobCache {
        scopes: vec![scope],
    }
}

/// Reconciles the same cached policy `p` once per entry of `arrivals` on one operator
/// state, after the Job watch delivered that entry's Jobs; the requests of all rounds
/// must follow `script` (and nothing more).
async fn reconcile(
    p: &BackupPolicy,
    cache: JobCache,
    now: &str,
    arrivals: Vec<Vec<Value>>,
    script: Vec<Expect>,
) -> (Vec<Action>, Vec<(String, Value)>) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let scope = cache.scopes[0].clone();
    let state =
        PolicyState::with_cache(context(client), Arc::new(Metrics::new()), Some(cache), None);
    let server = tokio::spawn(serve(handle, script));
    let mut actions = Vec::new();
    for jobs in arrivals {
        for j in jobs {
            let mut job: Job = serde_json::from_value(j).unwrap();
            strip_job(&mut job);
            scope.jobs.apply(&Event::Apply(job));
        }
        actions.push(reconcile_policy(p, &state, t(now)).await.unwrap());
    }
    drop(state);
    (actions, server.await.unwrap())
}

#[tokio::test]
async fn the_tick_lists_nothing_once_the_caches_are_ready() {
    let p = policy(|v| v["status"] = last_scheduled("2026-11-23T09:00:00Z"));
    let created = job("webshop-backup-202611231000", "2026-11-23T10:00:00Z", None);
    let (_, seen) = reconcile(
        &p,
        cache(vec![], vec![]),
        "2026-11-23T10:00:00.010Z",
        vec![vec![]],
        vec![
            Expect {
                status: 201,
                ..expect(Method::POST, JOBS, created)
            },
            expect(Method::POST, EVENTS, event_answer()),
            expect(Method::PATCH, STATUS, serde_json::to_value(&p).unwrap()),
        ],
    )
    .await;
    assert_eq!(seen[0].1["metadata"]["name"], "webshop-backup-202611231000");
    let status = status_of(&seen[2].1);
    assert_eq!(status["active"][0]["name"], "webshop-backup-202611231000");
    assert_eq!(condition(status, "Ready")["status"], "True");
}

/// What recording the finished backup sends: the prune Job, its event, the status, the
/// backup's event.
fn recording(p: &BackupPolicy) -> Vec<Expect> {
    vec![
        Expect {
            status: 201,
            ..expect(Method::POST, JOBS, prune_job())
        },
        expect(Method::POST, EVENTS, event_answer()),
        echo_status(Method::PATCH, STATUS, serde_json::to_value(p).unwrap()),
        expect(Method::POST, EVENTS, event_answer()),
    ]
}

fn assert_recorded(seen: &[(String, Value)]) {
    let status = status_of(&seen[2].1);
    assert_eq!(
        status["lastBackup"]["key"], "postgres/webshop/webshop/20261123T100002Z.dump.zst.age",
        "the runner's report was read"
    );
    assert_eq!(
        status["recordedJobs"],
        json!(["webshop-backup-202611231000"])
    );
    assert_eq!(seen[3].1["reason"], "BackupSucceeded");
}

#[tokio::test]
async fn a_finished_backup_is_recorded_from_the_caches() {
    let (p, done, pod) = finished_backup();
    let (_, seen) = reconcile(
        &p,
        cache(vec![done], vec![pod]),
        "2026-11-23T10:02:05Z",
        vec![vec![]],
        recording(&p),
    )
    .await;
    assert_recorded(&seen);
}

#[tokio::test]
async fn a_finished_job_whose_pod_end_is_not_cached_yet_asks_the_api_for_its_pods() {
    // The Job watch delivered Complete before the pod watch delivered the runner's end:
    // the report is read from the API, never recorded as missing.
    let (p, done, pod) = finished_backup();
    let mut running = pod.clone();
    running["status"] = json!({"phase": "Running", "containerStatuses": [{
        "name": "runner", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
        "state": {"running": {"startedAt": "2026-11-23T10:00:02Z"}}}]});
    let mut script = vec![expect(Method::GET, PODS, list("Pod", vec![pod]))];
    script.extend(recording(&p));
    let (_, seen) = reconcile(
        &p,
        cache(vec![done], vec![running]),
        "2026-11-23T10:02:05Z",
        vec![vec![]],
        script,
    )
    .await;
    assert_selects_the_policy(&seen[0].0);
    assert_recorded(&seen[1..]);
}

#[tokio::test]
async fn the_next_reconcile_starts_from_the_status_written_not_the_stale_policy() {
    // The prune Job's creation triggers the next reconcile at once, typically before the
    // policy watch delivers the status write: it must not record the backup again (no
    // second status write, no second BackupSucceeded event).
    let (p, done, pod) = finished_backup();
    let mut prune = prune_job();
    prune["metadata"]["labels"]["tidemark.dev/run-kind"] = json!("prune");
    let (actions, seen) = reconcile(
        &p,
        cache(vec![done], vec![pod]),
        "2026-11-23T10:02:05Z",
        vec![vec![], vec![prune]],
        recording(&p),
    )
    .await;
    assert_recorded(&seen);
    assert_eq!(actions[0], actions[1], "the same next look");
}
