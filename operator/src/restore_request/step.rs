//! The outcome of one decision: the status to write first, then the actions to take,
//! the events to report, and when to look again.

use std::time::Duration;

use tidemark_crd::restore_request::{RestoreRequestStatus, WorkloadKind};

use crate::naming::RunKind;

/// Something the reconciler does after the status is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the Job `name` of `kind` (`List`, `Restore` or `PostRestore`). An existing
    /// Job of that name (`AlreadyExists`) counts as created.
    CreateJob { kind: RunKind, name: String },
    /// Delete the Job `name` (and its pods) so it never runs or finishes later.
    DeleteJob { name: String },
    /// Set `spec.replicas` of a writer.
    Scale {
        kind: WorkloadKind,
        name: String,
        replicas: i32,
    },
}

/// Severity of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteType {
    Normal,
    Warning,
}

/// A Kubernetes Event to publish on the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub type_: NoteType,
    pub reason: String,
    pub message: String,
}

impl Note {
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_: NoteType::Normal,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_: NoteType::Warning,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// What to do now. The status (when `Some`) is written before any action, so that
/// what the actions change (replica counts, the chosen backup) is remembered first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    pub status: Option<RestoreRequestStatus>,
    pub actions: Vec<Action>,
    pub events: Vec<Note>,
    /// Look again after this long at the latest (owned Jobs wake the controller too).
    pub requeue_after: Option<Duration>,
}

impl Step {
    /// Nothing to do, nothing to wait for (a finished request).
    pub fn idle() -> Self {
        Self::default()
    }
}
