//! Leader election against the API stand-in (a real HTTP API with optimistic
//! concurrency): one of two electors leads; when the leader stops renewing (a crash) the
//! other takes over within the lease duration; a leader that steps down hands over at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tidemark_operator::runtime::leader::{LeaderConfig, LeaderError, Leadership};
use tidemark_testkit::standin::Standin;

const LEASE_SECONDS: u64 = 3;

fn config(identity: &str) -> LeaderConfig {
    LeaderConfig {
        lease_seconds: LEASE_SECONDS,
        grace_seconds: 1,
        ..LeaderConfig::new("default", "tidemark-operator", identity)
    }
}

async fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

async fn holder(api: &Api<Lease>) -> Option<String> {
    api.get("tidemark-operator")
        .await
        .ok()?
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_leads_and_the_other_takes_over_when_the_leader_stops_renewing() {
    let standin = Standin::start().unwrap();
    let client = standin.client().unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");

    let a = Leadership::start(client.clone(), &config("replica-a"))
        .await
        .unwrap();
    until("a to lead", Duration::from_secs(10), || a.is_leader()).await;
    let b = Leadership::start(client.clone(), &config("replica-b"))
        .await
        .unwrap();
    // b stays a follower while a renews, for more than two lease durations.
    let watch_until = Instant::now() + Duration::from_secs(2 * LEASE_SECONDS + 1);
    while Instant::now() < watch_until {
        assert!(a.is_leader() && !b.is_leader(), "exactly one leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-a"));

    // a crashes: it stops renewing and does not release.
    let crashed = Instant::now();
    a.abandon();
    until(
        "b to take over",
        Duration::from_secs(3 * LEASE_SECONDS),
        || b.is_leader(),
    )
    .await;
    let took = crashed.elapsed();
    assert!(
        took <= Duration::from_secs(LEASE_SECONDS + 2),
        "takeover after {took:?}, lease duration {LEASE_SECONDS}s"
    );
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-b"));

    // b steps down: the lease is released, and a new elector leads at once.
    b.step_down().await;
    assert_eq!(holder(&leases).await, None);
    let c = Leadership::start(client, &config("replica-c"))
        .await
        .unwrap();
    let waited = until("c to lead", Duration::from_secs(10), || c.is_leader()).await;
    assert!(
        waited < Duration::from_secs(LEASE_SECONDS),
        "a released lease is taken at once, took {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_runs_only_while_leading_and_restarts_after_a_lost_lease() {
    let standin = Standin::start().unwrap();
    let client = standin.client().unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let mut mine = Leadership::start(client.clone(), &config("replica-a"))
        .await
        .unwrap();
    let starts = Arc::new(AtomicUsize::new(0));
    let counted = starts.clone();
    let runner = tokio::spawn(async move {
        mine.run(|| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>()
        })
        .await
    });
    until("the work to start", Duration::from_secs(10), || {
        starts.load(Ordering::SeqCst) == 1
    })
    .await;

    // Another replica takes the lease away (as after a long pause of this one):
    // the work is cancelled, and started afresh once the lease is ours again.
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    );
    let mut lease = leases.get("tidemark-operator").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.renew_time = Some(now.clone());
    spec.acquire_time = Some(now);
    leases
        .replace("tidemark-operator", &Default::default(), &lease)
        .await
        .unwrap();
    // The intruder never renews: after its lease expires, replica-a leads again.
    until(
        "the work to restart",
        Duration::from_secs(4 * LEASE_SECONDS),
        || starts.load(Ordering::SeqCst) == 2,
    )
    .await;
    assert!(!runner.is_finished());
    runner.abort();
}

#[tokio::test]
async fn bad_timing_or_identity_is_refused_before_any_api_call() {
    // No API server at all: validation comes first.
    let client =
        kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
    let mut c = config("x");
    c.grace_seconds = c.lease_seconds;
    assert!(matches!(
        Leadership::start(client.clone(), &c).await,
        Err(LeaderError::InvalidTiming { .. })
    ));
    assert!(matches!(
        Leadership::start(client, &config("")).await,
        Err(LeaderError::EmptyIdentity)
    ));
}
