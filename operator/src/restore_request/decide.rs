//! The phase machine of a RestoreRequest: Pending → Resolving → StoppingWriters →
//! Restoring → PostRestore → Verifying → RestartingWriters → Succeeded | Failed.
//!
//! Pure: the same observation always gives the same step. The status is the memory —
//! the chosen backup and the writers' replica counts are written before anything is
//! touched — so an operator restarted at any point carries on where it was, and a
//! finished request is never run again.
//!
//! This module dispatches on the phase and holds the moves every phase makes (commit,
//! advance, create a Job, fail, succeed); each phase decides in its own module:
//! [`super::resolve`], [`super::preflight`], [`super::writers`], [`super::restoring`],
//! [`super::verifying`]; [`super::track`] follows the request's Jobs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tidemark_crd::restore_request::{RestorePhase, RestoreRequestStatus};

use super::observed::{Inputs, PolicyView};
use super::preflight;
use super::progress::{SUCCEEDED, VERIFIED, condition, enter, finish, set_condition};
use super::resolve::resolving;
use super::restoring::{post_restore, restoring};
use super::source::BackupSource;
use super::step::{Action, Note, Step};
use super::verifying::verifying;
use super::writers::{restarting_writers, stopping_writers};
use crate::naming::RunKind;

/// How soon to look again after moving to the next phase.
pub const SOON: Duration = Duration::from_secs(1);
/// How often to look at writers' pods going away.
pub const WRITER_POLL: Duration = Duration::from_secs(2);
/// Fallback look at running Jobs (their changes wake the controller anyway).
pub const JOB_POLL: Duration = Duration::from_secs(30);
/// Decides the next step of a request.
pub fn decide(i: &Inputs<'_>) -> Step {
    let phase = i.status.phase;
    if phase.is_terminal() {
        return Step::idle();
    }
    if i.deleting && phase != RestorePhase::RestartingWriters {
        return fail(
            i,
            next(i),
            "Deleted",
            "the RestoreRequest was deleted before it finished: its running Job is stopped \
             (an unfinished restore rolls back) and the writers are restarted"
                .to_string(),
        );
    }
    if phase == RestorePhase::Pending {
        return start(i);
    }
    let deadline = deadline(i);
    if phase != RestorePhase::RestartingWriters
        && let Some(deadline) = deadline
        && i.now >= deadline
    {
        return fail(
            i,
            next(i),
            "DeadlineExceeded",
            format!(
                "spec.deadlineSeconds: the restore did not finish within {}s (phase {phase:?})",
                i.spec.deadline_seconds
            ),
        );
    }
    let mut step = match phase {
        RestorePhase::Resolving => resolving(i),
        RestorePhase::Preflight => preflight::preflight(i),
        RestorePhase::StoppingWriters => stopping_writers(i),
        RestorePhase::Restoring => restoring(i),
        RestorePhase::PostRestore => post_restore(i),
        RestorePhase::Verifying => verifying(i),
        RestorePhase::RestartingWriters => restarting_writers(i),
        RestorePhase::Pending | RestorePhase::Succeeded | RestorePhase::Failed => Step::idle(),
    };
    // Wake up at the deadline at the latest, unless the request is finishing.
    let finishing = step
        .status
        .as_ref()
        .is_some_and(|s| s.phase.is_terminal() || s.phase == RestorePhase::RestartingWriters);
    if let Some(deadline) = deadline
        && phase != RestorePhase::RestartingWriters
        && !finishing
    {
        let left = (deadline - i.now).to_std().unwrap_or(Duration::ZERO);
        step.requeue_after = Some(step.requeue_after.map_or(left, |r| r.min(left)));
    }
    step
}

fn deadline(i: &Inputs<'_>) -> Option<DateTime<Utc>> {
    i.status
        .started_at
        .map(|s| s + chrono::Duration::seconds(i.spec.deadline_seconds))
}

/// The current status, to be changed into the next one.
pub(super) fn next(i: &Inputs<'_>) -> RestoreRequestStatus {
    let mut s = i.status.clone();
    s.observed_generation = i.generation.or(s.observed_generation);
    s
}

/// A step that writes `next` (if it differs) and then acts.
pub(super) fn commit(
    i: &Inputs<'_>,
    next: RestoreRequestStatus,
    actions: Vec<Action>,
    events: Vec<Note>,
    requeue_after: Option<Duration>,
) -> Step {
    Step {
        status: (next != *i.status).then_some(next),
        actions,
        events,
        requeue_after,
    }
}

pub(super) fn target_database(i: &Inputs<'_>) -> String {
    if i.spec.backup.restores_all_databases() {
        return "every database of the run (each into the database of the same name)".into();
    }
    match &i.spec.target.connection.database {
        Some(db) => format!("database {db:?}"),
        None => "the database of target.connection.uriSecretRef".to_string(),
    }
}

pub(super) fn source<'a>(i: &Inputs<'a>) -> Option<BackupSource<'a>> {
    let policy = match i.policy {
        PolicyView::Found(p) => Some(p),
        PolicyView::Missing | PolicyView::NotReferenced => None,
    };
    BackupSource::of(i.spec, i.namespace, policy)
}

pub(super) fn policy_spec<'a>(i: &Inputs<'a>) -> Option<&'a tidemark_crd::BackupPolicySpec> {
    match i.policy {
        PolicyView::Found(p) => Some(&p.spec),
        PolicyView::Missing | PolicyView::NotReferenced => None,
    }
}

fn start(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    s.started_at = Some(i.now);
    enter(&mut s, RestorePhase::Resolving, i.now);
    s.reason = Some("Resolving".into());
    s.message = Some("choosing the backup to restore".into());
    set_condition(
        &mut s,
        SUCCEEDED,
        "Unknown",
        "InProgress",
        "the restore is in progress",
        i.now,
        i.generation,
    );
    commit(
        i,
        s,
        Vec::new(),
        vec![Note::normal("Started", "restore started")],
        Some(SOON),
    )
}

/// Creates the request's Job of `kind` named `name` and polls it.
pub(super) fn create_job(
    i: &Inputs<'_>,
    s: RestoreRequestStatus,
    kind: RunKind,
    name: String,
) -> Step {
    commit(
        i,
        s,
        vec![Action::CreateJob { kind, name }],
        Vec::new(),
        Some(JOB_POLL),
    )
}

/// Moves on to `phase` soon, with `message` as the status message (status reason
/// `reasons.0`) and as a Normal event (reason `reasons.1`).
pub(super) fn advance(
    i: &Inputs<'_>,
    mut s: RestoreRequestStatus,
    phase: RestorePhase,
    (status_reason, event_reason): (&str, &str),
    message: String,
) -> Step {
    s.reason = Some(status_reason.into());
    s.message = Some(message.clone());
    enter(&mut s, phase, i.now);
    commit(
        i,
        s,
        Vec::new(),
        vec![Note::normal(event_reason, message)],
        Some(SOON),
    )
}

/// Finishes successfully.
pub(super) fn succeeded(i: &Inputs<'_>, s: &mut RestoreRequestStatus, missing: &[String]) -> Note {
    finish(s, RestorePhase::Succeeded, i.now);
    let key = s
        .resolved_backup
        .as_ref()
        .map(|b| b.key.clone())
        .unwrap_or_default();
    let verified = condition(s, VERIFIED)
        .map(|c| format!("; {}", c.message))
        .unwrap_or_default();
    let missing = if missing.is_empty() {
        String::new()
    } else {
        format!(
            "; not restarted because they no longer exist: {}",
            missing.join(", ")
        )
    };
    let message = format!(
        "restored {key} into {} in {}{verified}{missing}",
        target_database(i),
        s.duration.clone().unwrap_or_default()
    );
    s.reason = Some("Restored".into());
    s.message = Some(message.clone());
    set_condition(
        s,
        SUCCEEDED,
        "True",
        "Restored",
        &message,
        i.now,
        i.generation,
    );
    if missing.is_empty() {
        Note::normal("Succeeded", message)
    } else {
        Note::warning("Succeeded", message)
    }
}

/// Records a failure. Jobs still running are deleted; writers already stopped are
/// started again (phase RestartingWriters) before the request ends as Failed.
pub(super) fn fail(
    i: &Inputs<'_>,
    mut s: RestoreRequestStatus,
    reason: &str,
    message: String,
) -> Step {
    s.reason = Some(reason.to_string());
    s.message = Some(message.clone());
    set_condition(
        &mut s,
        SUCCEEDED,
        "False",
        reason,
        &message,
        i.now,
        i.generation,
    );
    if condition(&s, VERIFIED).is_none() {
        set_condition(
            &mut s,
            VERIFIED,
            "False",
            "NotRestored",
            "nothing was restored, so nothing was verified",
            i.now,
            i.generation,
        );
    }
    let actions: Vec<Action> = i
        .jobs
        .iter()
        .filter(|j| !j.state.is_finished())
        .map(|j| Action::DeleteJob {
            name: j.name.clone(),
        })
        .collect();
    let events = vec![Note::warning("Failed", message)];
    if s.writers.iter().any(|w| !w.restarted) {
        enter(&mut s, RestorePhase::RestartingWriters, i.now);
        return commit(i, s, actions, events, Some(SOON));
    }
    finish(&mut s, RestorePhase::Failed, i.now);
    commit(i, s, actions, events, None)
}
