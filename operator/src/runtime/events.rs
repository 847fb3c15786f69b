//! Kubernetes Events, as both controllers publish them: notes cut to what the API
//! server accepts, through a kube [`Recorder`] renewed every [`RECORDER_EVENTS`]
//! Events.

use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, Recorder, Reporter};

/// Events one [`Recorder`] publishes before a fresh one replaces it. kube's Recorder
/// keeps every Event it published in the last six minutes (to count repeats as a
/// series) and scans that whole cache on each publish: at a tick of 10,000 policies,
/// 10,000 cached Events and a scan growing with the fleet on every one. A fresh
/// Recorder after this many bounds both (bench/operator.sh, 10,000 policies: peak RSS
/// 205.6 → 189.7 MiB); a repeat across the boundary becomes a new Event instead of a
/// series count, which loses nothing a reader needs.
pub const RECORDER_EVENTS: usize = 512;

/// A kube [`Recorder`] whose cache stays bounded: every [`RECORDER_EVENTS`] Events
/// the next publish goes through a fresh Recorder (the old one is dropped once its
/// publishes in flight end). Clones share the count. Both controllers publish through
/// one of these (the BackupPolicy controller from its event queue's worker, the
/// RestoreRequest controller from its reconcile).
#[derive(Clone)]
pub struct BoundedRecorder {
    inner: Arc<Inner>,
}

type MakeRecorder = dyn Fn() -> Recorder + Send + Sync;

struct Inner {
    make: Box<MakeRecorder>,
    /// The current Recorder and how many Events went through it.
    current: Mutex<(Recorder, usize)>,
}

impl BoundedRecorder {
    /// Recorders made by `make`.
    pub fn new(make: impl Fn() -> Recorder + Send + Sync + 'static) -> Self {
        let first = make();
        Self {
            inner: Arc::new(Inner {
                make: Box::new(make),
                current: Mutex::new((first, 0)),
            }),
        }
    }

    /// Recorders of `client` reporting as `reporter`.
    pub fn of(client: kube::Client, reporter: Reporter) -> Self {
        Self::new(move || Recorder::new(client.clone(), reporter.clone()))
    }

    /// Publishes `event` about `reference`.
    pub async fn publish(
        &self,
        event: &Event,
        reference: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let recorder = self.next();
        recorder.publish(event, reference).await
    }

    /// The Recorder for the next Event, fresh once the current one published
    /// [`RECORDER_EVENTS`].
    fn next(&self) -> Recorder {
        let mut current = self
            .inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current.1 >= RECORDER_EVENTS {
            *current = ((self.inner.make)(), 0);
        }
        current.1 += 1;
        current.0.clone()
    }
}

/// Event notes are limited to 1 KiB by the API server: longer ones are cut (at a char
/// boundary) and end in `…`.
pub fn truncate(mut s: String) -> String {
    const MAX: usize = 1000;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(800));
        assert!(s.len() <= 1003);
        assert!(s.ends_with('…'));
    }
}
