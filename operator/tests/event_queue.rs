//! Events published off the reconcile path: in order, drained at shutdown, dropped
//! (never blocking the caller) when the queue is full. Against kube's mock service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use http::{Method, Request, Response};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::client::Body;
use kube::runtime::events::{Event, EventType};
use tidemark_operator::context::Context;
use tidemark_operator::runtime::event_queue::EventQueue;
use tidemark_operator::runtime::events::BoundedRecorder;
use tower_test::mock;

mod support;
use support::api::{context, expect, serve};
use support::policy::{EVENTS, NS, event_answer};

fn event(reason: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(format!("{reason} happened")),
        action: "Test".into(),
        secondary: None,
    }
}

/// The context's kind of recorder, counting the kube Recorders it makes.
fn counting_recorder(
    ctx: &Context,
    made: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> BoundedRecorder {
    let (client, reporter) = (ctx.client.clone(), ctx.reporter.clone());
    BoundedRecorder::new(move || {
        made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        kube::runtime::events::Recorder::new(client.clone(), reporter.clone())
    })
}

fn policy_ref() -> ObjectReference {
    ObjectReference {
        api_version: Some("tidemark.dev/v1alpha1".into()),
        kind: Some("BackupPolicy".into()),
        name: Some("webshop".into()),
        namespace: Some(NS.into()),
        uid: Some("u".into()),
        ..ObjectReference::default()
    }
}

#[tokio::test]
async fn events_are_published_in_order_and_drained_at_shutdown() {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let queue = EventQueue::start(ctx.recorder.clone(), 16);
    let reasons = ["BackupStarted", "BackupSucceeded", "PruneStarted"];
    let server = tokio::spawn(serve(
        handle,
        reasons
            .iter()
            .map(|_| expect(Method::POST, EVENTS, event_answer()))
            .collect(),
    ));
    for r in reasons {
        assert!(queue.send(event(r), policy_ref()));
    }
    queue.drain(Duration::from_secs(5)).await;
    assert!(
        !queue.send(event("TooLate"), policy_ref()),
        "a drained queue refuses new events"
    );
    let seen = server.await.unwrap();
    let sent: Vec<&str> = seen
        .iter()
        .map(|(_, b)| b["reason"].as_str().unwrap())
        .collect();
    assert_eq!(sent, reasons);
    assert_eq!(seen[0].1["regarding"]["name"], "webshop");
}

#[tokio::test]
async fn a_full_queue_drops_instead_of_blocking() {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let queue = EventQueue::start(ctx.recorder.clone(), 1);
    // The worker takes the first Event and waits for the API server, which does not
    // answer yet; the second fills the queue; the third is dropped at once.
    assert!(queue.send(event("First"), policy_ref()));
    let (first, answer) = handle.next_request().await.unwrap();
    assert_eq!(first.method(), Method::POST);
    assert!(queue.send(event("Second"), policy_ref()));
    assert!(!queue.send(event("Third"), policy_ref()));
    answer.send_response(
        Response::builder()
            .status(201)
            .body(Body::from(serde_json::to_vec(&event_answer()).unwrap()))
            .unwrap(),
    );
    let server = tokio::spawn(serve(
        handle,
        vec![expect(Method::POST, EVENTS, event_answer())],
    ));
    queue.drain(Duration::from_secs(5)).await;
    let seen = server.await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1["reason"], "Second");
}

#[tokio::test]
async fn a_fresh_recorder_every_recorder_events_bounds_its_cache() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tidemark_operator::runtime::event_queue::RECORDER_EVENTS;

    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(kube::Client::new(service, "default"));
    let made = Arc::new(AtomicUsize::new(0));
    let queue = EventQueue::start(counting_recorder(&ctx, made.clone()), RECORDER_EVENTS + 8);
    let n = RECORDER_EVENTS + 1;
    let server = tokio::spawn(serve(
        handle,
        (0..n)
            .map(|_| expect(Method::POST, EVENTS, event_answer()))
            .collect(),
    ));
    for i in 0..n {
        assert!(queue.send(event(&format!("Run{i}")), policy_ref()));
    }
    queue.drain(Duration::from_secs(20)).await;
    assert_eq!(server.await.unwrap().len(), n);
    assert_eq!(
        made.load(Ordering::SeqCst),
        2,
        "one Recorder for the first {RECORDER_EVENTS} Events, a fresh one after"
    );
}

/// The RestoreRequest controller publishes from its reconcile through the context's
/// recorder (no queue): that recorder is renewed after the same number of Events, so
/// its cache stays bounded too.
#[tokio::test]
async fn the_restore_request_recorder_is_renewed_every_recorder_events() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tidemark_operator::runtime::events::RECORDER_EVENTS;

    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let mut ctx = (*context(kube::Client::new(service, "default"))).clone();
    let made = Arc::new(AtomicUsize::new(0));
    ctx.recorder = counting_recorder(&ctx, made.clone());
    let request = ObjectReference {
        api_version: Some("tidemark.dev/v1alpha1".into()),
        kind: Some("RestoreRequest".into()),
        name: Some("webshop-restore".into()),
        namespace: Some(NS.into()),
        uid: Some("r".into()),
        ..ObjectReference::default()
    };
    let n = 2 * RECORDER_EVENTS + 1;
    let server = tokio::spawn(serve(
        handle,
        (0..n)
            .map(|_| expect(Method::POST, EVENTS, event_answer()))
            .collect(),
    ));
    // As the reconcile does: each Event published through `ctx.recorder`, a clone of
    // the context's (clones share the count).
    for i in 0..n {
        let recorder = ctx.recorder.clone();
        recorder
            .publish(&event(&format!("Restore{i}")), &request)
            .await
            .unwrap();
    }
    drop(ctx);
    assert_eq!(server.await.unwrap().len(), n);
    assert_eq!(
        made.load(Ordering::SeqCst),
        3,
        "a fresh Recorder after each {RECORDER_EVENTS} Events"
    );
}
