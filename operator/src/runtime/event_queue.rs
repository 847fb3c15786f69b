//! Kubernetes Events published off the reconcile path.
//!
//! An Event is information for people, not state: a reconcile that waits for its
//! Events to be written holds a reconcile slot (and the Job creations queued behind it)
//! for a request that decides nothing. Like client-go's event broadcaster, reconciles
//! put Events on a bounded queue and one worker publishes them in order. When the queue
//! is full (the API server is far behind) an Event is dropped with a warning rather than
//! slowing the controller; on shutdown the worker gets a few seconds to drain.

use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::Event;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::events::BoundedRecorder;

/// Events waiting to be published at most (client-go's broadcaster keeps 1,000).
pub const CAPACITY: usize = 4096;

pub use super::events::RECORDER_EVENTS;

type Item = (Event, ObjectReference);

/// The sending side; cheap to share behind the controller state.
pub struct EventQueue {
    tx: mpsc::Sender<Item>,
    drain: watch::Sender<bool>,
    worker: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl EventQueue {
    /// Starts the worker that publishes through `recorder` (a fresh kube Recorder every
    /// [`RECORDER_EVENTS`] Events), keeping up to `capacity` Events.
    pub fn start(recorder: BoundedRecorder, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (drain, drain_rx) = watch::channel(false);
        let worker = tokio::spawn(work(recorder, rx, drain_rx));
        Self {
            tx,
            drain,
            worker: std::sync::Mutex::new(Some(worker)),
        }
    }

    /// Queues an Event about `reference`; false (and a warning) if it had to be dropped.
    pub fn send(&self, event: Event, reference: ObjectReference) -> bool {
        let (why, (event, reference)) = match self.tx.try_send((event, reference)) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Full(item)) => ("event queue full", item),
            Err(mpsc::error::TrySendError::Closed(item)) => ("event queue closed", item),
        };
        tracing::warn!(
            object = reference.name.as_deref().unwrap_or_default(),
            reason = %event.reason,
            "{why}; event dropped"
        );
        false
    }

    /// Publishes what is queued (new Events are refused from now on), waiting at most
    /// `timeout`.
    pub async fn drain(&self, timeout: Duration) {
        self.drain.send_replace(true);
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker
            && tokio::time::timeout(timeout, worker).await.is_err()
        {
            tracing::warn!("events still queued at shutdown were not published");
        }
    }
}

/// Returns once a drain is asked for (or the queue is gone).
async fn drain_requested(drain: &mut watch::Receiver<bool>) {
    let _ = drain.wait_for(|d| *d).await.map(|_| ());
}

async fn work(
    recorder: BoundedRecorder,
    mut rx: mpsc::Receiver<Item>,
    mut drain: watch::Receiver<bool>,
) {
    let mut draining = false;
    loop {
        let next = if draining {
            rx.recv().await
        } else {
            tokio::select! {
                item = rx.recv() => item,
                () = drain_requested(&mut drain) => {
                    // Refuse new Events, then publish the ones already queued.
                    rx.close();
                    draining = true;
                    continue;
                }
            }
        };
        let Some((event, reference)) = next else {
            return;
        };
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::warn!(
                object = reference.name.as_deref().unwrap_or_default(),
                reason = %event.reason,
                error = %e,
                "cannot publish event"
            );
        }
    }
}
