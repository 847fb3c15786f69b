//! The phase machine of a RestoreRequest: Pending → Resolving → StoppingWriters →
//! Restoring → PostRestore → Verifying → RestartingWriters → Succeeded | Failed.
//!
//! Pure: the same observation always gives the same step. The status is the memory —
//! the chosen backup and the writers' replica counts are written before anything is
//! touched — so an operator restarted at any point carries on where it was, and a
//! finished request is never run again.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tidemark_crd::common::TableMismatch;
use tidemark_crd::contract::result::{RestoreResult, RunnerReport};
use tidemark_crd::restore_request::{
    ResolvedBackup, RestoreContent, RestoreJobs, RestorePhase, RestoreRequestStatus, WorkloadKind,
    WriterState,
};

use super::fields::{field_of_runner_failure, fields_for_secret_message};
use super::observed::{Inputs, PolicyView, WorkloadState, blocking_problem};
use super::preflight;
use super::progress::{
    SUCCEEDED, VERIFIED, condition, enter, finish, recorded_failure, set_condition,
};
use super::select::{Selection, from_inventory, from_listed};
use super::source::BackupSource;
use super::step::{Action, Note, Step};
use crate::naming::{RunKind, request_job_name};
use crate::policy::observed::{JobState, PodProblem};

/// How soon to look again after moving to the next phase.
pub const SOON: Duration = Duration::from_secs(1);
/// How often to look at writers' pods going away.
pub const WRITER_POLL: Duration = Duration::from_secs(2);
/// Fallback look at running Jobs (their changes wake the controller anyway).
pub const JOB_POLL: Duration = Duration::from_secs(30);
/// Runner reasons that mean the selector matched nothing.
const NO_MATCH_REASONS: [&str; 2] = ["NoBackupFound", "BackupNotFound"];
/// The runner's reason for a backup whose manifest exists without its data (or with
/// data of another size): never selected, reported as it is.
const BACKUP_INCOMPLETE: &str = "BackupIncomplete";
/// Mismatches spelled out in a message.
const MISMATCHES_IN_MESSAGE: usize = 5;

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

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::StatefulSet => "StatefulSet",
    }
}

fn target_database(i: &Inputs<'_>) -> String {
    match &i.spec.target.connection.database {
        Some(db) => format!("database {db:?}"),
        None => "the database of target.connection.uriSecretRef".to_string(),
    }
}

fn source<'a>(i: &Inputs<'a>) -> Option<BackupSource<'a>> {
    let policy = match i.policy {
        PolicyView::Found(p) => Some(p),
        PolicyView::Missing | PolicyView::NotReferenced => None,
    };
    BackupSource::of(i.spec, i.namespace, policy)
}

fn policy_spec<'a>(i: &Inputs<'a>) -> Option<&'a tidemark_crd::BackupPolicySpec> {
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

/// Suffix of an age-encrypted backup key (see `contract::keys::extension`).
const ENCRYPTED_SUFFIX: &str = ".age";

/// Moves on with the chosen backup, recorded before anything is touched.
fn resolved(i: &Inputs<'_>, mut s: RestoreRequestStatus, b: ResolvedBackup, via: &str) -> Step {
    if b.key.ends_with(ENCRYPTED_SUFFIX) && i.spec.decryption_identity_secret_ref.is_none() {
        let message = format!(
            "decryptionIdentitySecretRef: backup {} is encrypted with age; name the Secret \
             key holding the identity (AGE-SECRET-KEY-1…) that decrypts it",
            b.key
        );
        s.resolved_backup = Some(b);
        return fail(i, s, "DecryptionIdentityMissing", message);
    }
    let message = format!(
        "resolved backup {} (completed {}, sha256 {}) from {via}",
        b.key,
        b.completed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        b.sha256
    );
    s.resolved_backup = Some(b);
    let phase = if preflight::needed(i.spec) {
        RestorePhase::Preflight
    } else {
        preflight::after_preflight(i.spec)
    };
    advance(i, s, phase, ("Resolved", "BackupResolved"), message)
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

/// Where a Job of the request stands.
pub(super) enum Tracked<'a> {
    /// Not created yet.
    Absent,
    /// Created and observed before, now gone (e.g. deleted by hand or by a short TTL)
    /// before its result was recorded.
    Vanished,
    Running,
    Blocked(&'a PodProblem),
    Succeeded(Option<&'a RunnerReport>),
    Failed {
        reason: &'a str,
        message: &'a str,
        report: Option<&'a RunnerReport>,
        exit_code: Option<i32>,
    },
}

fn job_slot(jobs: &mut RestoreJobs, kind: RunKind) -> &mut Option<String> {
    match kind {
        RunKind::List => &mut jobs.list,
        RunKind::Preflight => &mut jobs.preflight,
        RunKind::PostRestore => &mut jobs.post_restore,
        RunKind::RestoreVerify => &mut jobs.verify,
        _ => &mut jobs.restore,
    }
}

/// Looks up the Job of `kind`, recording its name in status once it is seen (so that a
/// Job that later disappears is never silently created again).
pub(super) fn track<'a>(
    i: &'a Inputs<'_>,
    s: &mut RestoreRequestStatus,
    kind: RunKind,
) -> (String, Tracked<'a>) {
    let name = request_job_name(i.name, kind);
    let mut recorded = s.jobs.clone().unwrap_or_default();
    let seen = job_slot(&mut recorded, kind).as_deref() == Some(name.as_str());
    let Some(job) = i.job(&name) else {
        let tracked = if seen {
            Tracked::Vanished
        } else {
            Tracked::Absent
        };
        return (name, tracked);
    };
    *job_slot(s.jobs.get_or_insert_with(RestoreJobs::default), kind) = Some(name.clone());
    let tracked = match &job.state {
        JobState::Active => match blocking_problem(job) {
            Some(b) => Tracked::Blocked(b),
            None => Tracked::Running,
        },
        JobState::Succeeded(report) => Tracked::Succeeded(report.as_ref()),
        JobState::Failed {
            reason,
            message,
            report,
            exit_code,
        } => Tracked::Failed {
            reason,
            message,
            report: report.as_ref(),
            exit_code: *exit_code,
        },
    };
    (name, tracked)
}

/// Why a Job failed, naming the field behind it when the runner's reason tells.
pub(super) fn job_failure(
    what: &str,
    name: &str,
    reason: &str,
    message: &str,
    report: Option<&RunnerReport>,
    exit_code: Option<i32>,
) -> (Option<String>, String) {
    let runner = report.and_then(|r| r.error.as_ref());
    let (reason, detail) = match runner {
        Some(e) => (e.reason.clone(), e.message.clone()),
        None => (reason.to_string(), message.to_string()),
    };
    let field = field_of_runner_failure(&reason, &detail)
        .map(|f| format!("{f}: "))
        .unwrap_or_default();
    let code = exit_code
        .map(|c| format!(", exit code {c}"))
        .unwrap_or_default();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    let message = format!("{field}{what} Job {name} failed ({reason}{code}){detail}");
    (runner.map(|_| reason), message)
}

/// A pod that cannot start: fail at once (and delete the Job, so it never starts
/// later when the missing piece appears).
pub(super) fn blocked_failure(
    i: &Inputs<'_>,
    s: RestoreRequestStatus,
    kind: RunKind,
    name: &str,
    b: &PodProblem,
) -> Step {
    let (reason, image_field) = match kind {
        RunKind::List => ("ListPodBlocked", "jobTemplate.image"),
        RunKind::PostRestore => ("PostRestorePodBlocked", "postRestore.image"),
        _ => ("RestorePodBlocked", "jobTemplate.image"),
    };
    let field = fields_for_secret_message(i.spec, policy_spec(i), &b.message)
        .or_else(|| {
            (b.reason.contains("Image") || b.message.contains("runAsNonRoot"))
                .then(|| image_field.to_string())
        })
        .map(|f| format!("{f}: "))
        .unwrap_or_default();
    fail(
        i,
        s,
        reason,
        format!(
            "{field}the {} Job {name} cannot start ({}): {}",
            kind.label(),
            b.reason,
            b.message
        ),
    )
}

fn resolving(i: &Inputs<'_>) -> Step {
    let s = next(i);
    let sel = Selection::of(&i.spec.backup);
    if let Some(p) = &i.spec.source.policy_ref {
        match i.policy {
            PolicyView::Found(policy) => {
                if let Some(b) = policy
                    .status
                    .as_ref()
                    .and_then(|st| from_inventory(sel, st))
                {
                    return resolved(i, s, b, "the policy's inventory");
                }
            }
            PolicyView::Missing | PolicyView::NotReferenced => {
                return fail(
                    i,
                    s,
                    "PolicyNotFound",
                    format!(
                        "source.policyRef.name: BackupPolicy {:?} not found in namespace {:?}",
                        p.name, i.namespace
                    ),
                );
            }
        }
    }
    let location = source(i).map_or_else(|| "the source".to_string(), |src| src.location());
    let mut s = s;
    let (name, tracked) = track(i, &mut s, RunKind::List);
    match tracked {
        Tracked::Absent | Tracked::Vanished => {
            s.message = Some(format!("listing the backups in {location}"));
            create_job(i, s, RunKind::List, name)
        }
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::List, &name, b),
        Tracked::Succeeded(report) => match report.and_then(|r| r.list.as_ref()) {
            Some(list) => match &list.selected {
                Some(b) => resolved(i, s, from_listed(b), &format!("list Job {name}")),
                None => fail(i, s, "NoMatchingBackup", sel.no_match(&location)),
            },
            None => fail(
                i,
                s,
                "ListReportMissing",
                format!("the list Job {name} succeeded without a readable report"),
            ),
        },
        Tracked::Failed {
            reason,
            message,
            report,
            exit_code,
        } => {
            let runner_reason = report
                .and_then(|r| r.error.as_ref())
                .map(|e| e.reason.as_str());
            if runner_reason.is_some_and(|r| NO_MATCH_REASONS.contains(&r)) {
                return fail(i, s, "NoMatchingBackup", sel.no_match(&location));
            }
            let (runner_reason, message) =
                job_failure("list", &name, reason, message, report, exit_code);
            // A broken backup (manifest without its data) is the user's to act on, not the
            // list Job's failure.
            let reason = match runner_reason.as_deref() {
                Some(BACKUP_INCOMPLETE) => BACKUP_INCOMPLETE,
                _ => "ListFailed",
            };
            fail(i, s, reason, message)
        }
    }
}

fn stopping_writers(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    if i.spec.stop_writers.is_empty() {
        enter(&mut s, RestorePhase::Restoring, i.now);
        return commit(i, s, Vec::new(), Vec::new(), Some(SOON));
    }
    if s.writers.is_empty() {
        // Remember every replica count first; nothing is scaled before all exist.
        let mut saved = Vec::new();
        for (idx, w) in i.spec.stop_writers.iter().enumerate() {
            match i.writer(w.kind, &w.name).map(|o| o.state) {
                Some(WorkloadState::Present { replicas, .. }) => saved.push(WriterState {
                    kind: w.kind,
                    name: w.name.clone(),
                    previous_replicas: replicas,
                    restarted: false,
                }),
                None | Some(WorkloadState::Missing) => {
                    return fail(
                        i,
                        s,
                        "WriterNotFound",
                        format!(
                            "stopWriters[{idx}]: {} {:?} not found in namespace {:?}",
                            kind_name(w.kind),
                            w.name,
                            i.namespace
                        ),
                    );
                }
            }
        }
        let listed: Vec<String> = saved
            .iter()
            .map(|w| {
                format!(
                    "{} {} ({} replicas)",
                    kind_name(w.kind),
                    w.name,
                    w.previous_replicas
                )
            })
            .collect();
        let message = format!("scaling writers to zero: {}", listed.join(", "));
        let actions = saved
            .iter()
            .map(|w| Action::Scale {
                kind: w.kind,
                name: w.name.clone(),
                replicas: 0,
            })
            .collect();
        s.writers = saved;
        s.reason = Some("StoppingWriters".into());
        s.message = Some(message.clone());
        return commit(
            i,
            s,
            actions,
            vec![Note::normal("StoppingWriters", message)],
            Some(WRITER_POLL),
        );
    }
    let mut actions = Vec::new();
    let mut waiting = Vec::new();
    for w in &s.writers {
        if let Some(WorkloadState::Present { replicas, pods }) =
            i.writer(w.kind, &w.name).map(|o| o.state)
        {
            if replicas != 0 {
                actions.push(Action::Scale {
                    kind: w.kind,
                    name: w.name.clone(),
                    replicas: 0,
                });
            }
            if replicas != 0 || pods > 0 {
                waiting.push(format!("{} {}", kind_name(w.kind), w.name));
            }
        }
    }
    if waiting.is_empty() {
        s.reason = Some("WritersStopped".into());
        s.message = Some("writers stopped; restoring".into());
        enter(&mut s, RestorePhase::Restoring, i.now);
        return commit(i, s, actions, Vec::new(), Some(SOON));
    }
    s.message = Some(format!(
        "waiting for the pods of {} to stop",
        waiting.join(", ")
    ));
    commit(i, s, actions, Vec::new(), Some(WRITER_POLL))
}

/// Copies what the runner reported about the restore into status.
fn record_restore(s: &mut RestoreRequestStatus, r: &RestoreResult) {
    s.tables_restored = i32::try_from(r.tables_restored).ok();
    s.tables_compared = i32::try_from(r.tables_compared).ok();
    s.mismatches.clone_from(&r.mismatches);
}

fn mismatch_message(mismatches: &[TableMismatch], total: usize, compared: i64) -> String {
    let listed: Vec<String> = mismatches
        .iter()
        .take(MISMATCHES_IN_MESSAGE)
        .map(|m| {
            format!(
                "{} expected {} rows, found {}",
                m.table, m.expected, m.actual
            )
        })
        .collect();
    format!(
        "verify.rowCounts: {} of {compared} tables differ from the backup's manifest: {}",
        total.max(mismatches.len()),
        listed.join("; ")
    )
}

fn restoring(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    let Some(key) = s.resolved_backup.as_ref().map(|b| b.key.clone()) else {
        return fail(
            i,
            s,
            "Internal",
            "status.resolvedBackup is missing in phase Restoring".into(),
        );
    };
    let (name, tracked) = track(i, &mut s, RunKind::Restore);
    match tracked {
        Tracked::Absent if source(i).is_none() => {
            let policy = i.spec.source.policy_ref.as_ref().map(|p| p.name.as_str());
            fail(
                i,
                s,
                "PolicyNotFound",
                format!(
                    "source.policyRef.name: BackupPolicy {:?} no longer exists in namespace {:?}; \
                     its bucket settings are needed to restore",
                    policy.unwrap_or_default(),
                    i.namespace
                ),
            )
        }
        Tracked::Absent => {
            s.reason = Some("Restoring".into());
            s.message = Some(format!("restoring {key} into {}", target_database(i)));
            create_job(i, s, RunKind::Restore, name)
        }
        Tracked::Vanished => vanished(i, s, "restore", &name),
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::Restore, &name, b),
        Tracked::Succeeded(report) => {
            let restored = report.and_then(|r| r.restore.as_ref());
            if let Some(r) = restored {
                record_restore(&mut s, r);
            }
            let tables =
                restored.map_or_else(String::new, |r| format!(" ({} tables)", r.tables_restored));
            let message = format!("restored {key} into {}{tables}", target_database(i));
            let phase = if i.spec.post_restore.is_some() {
                RestorePhase::PostRestore
            } else {
                RestorePhase::Verifying
            };
            advance(i, s, phase, ("Restored", "Restored"), message)
        }
        Tracked::Failed {
            reason,
            message,
            report,
            exit_code,
        } => {
            if let Some(r) = report.and_then(|r| r.restore.as_ref())
                && (!r.mismatches.is_empty() || r.mismatch_count > 0)
            {
                record_restore(&mut s, r);
                let total = usize::try_from(r.mismatch_count).unwrap_or(usize::MAX);
                let message = mismatch_message(&r.mismatches, total, i64::from(r.tables_compared));
                return row_count_mismatch(i, s, message);
            }
            let (runner_reason, message) =
                job_failure("restore", &name, reason, message, report, exit_code);
            let reason = runner_reason.unwrap_or_else(|| "RestoreJobFailed".to_string());
            fail(i, s, &reason, message)
        }
    }
}

/// Fails with the restored rows not matching the backup's manifest (also the
/// `Verified` condition).
fn row_count_mismatch(i: &Inputs<'_>, mut s: RestoreRequestStatus, message: String) -> Step {
    set_condition(
        &mut s,
        VERIFIED,
        "False",
        "RowCountMismatch",
        &message,
        i.now,
        i.generation,
    );
    fail(i, s, "RowCountMismatch", message)
}

fn vanished(i: &Inputs<'_>, s: RestoreRequestStatus, what: &str, name: &str) -> Step {
    fail(
        i,
        s,
        "JobVanished",
        format!(
            "the {what} Job {name} disappeared before its result was recorded; it is not run \
             again (check jobTemplate.ttlSecondsAfterFinished and who deleted it)"
        ),
    )
}

fn post_restore(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    if i.spec.post_restore.is_none() {
        enter(&mut s, RestorePhase::Verifying, i.now);
        return commit(i, s, Vec::new(), Vec::new(), Some(SOON));
    }
    let (name, tracked) = track(i, &mut s, RunKind::PostRestore);
    match tracked {
        Tracked::Absent => {
            s.reason = Some("PostRestore".into());
            s.message = Some(format!("running the post-restore Job {name}"));
            create_job(i, s, RunKind::PostRestore, name)
        }
        Tracked::Vanished => vanished(i, s, "post-restore", &name),
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::PostRestore, &name, b),
        Tracked::Succeeded(_) => {
            let message = format!("the post-restore Job {name} succeeded");
            let reasons = ("PostRestoreSucceeded", "PostRestoreSucceeded");
            advance(i, s, RestorePhase::Verifying, reasons, message)
        }
        Tracked::Failed {
            reason,
            message,
            exit_code,
            ..
        } => {
            // The post-restore container is the user's, not the runner: no report.
            let (_, message) = job_failure("post-restore", &name, reason, message, None, exit_code);
            fail(i, s, "PostRestoreFailed", format!("postRestore: {message}"))
        }
    }
}

fn verifying(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    let (value, reason, message) = if !i.spec.verify.row_counts {
        (
            "Unknown",
            "NotRequested",
            "verify.rowCounts is false".to_string(),
        )
    } else if i.spec.mode.content == RestoreContent::SchemaOnly {
        (
            "Unknown",
            "SchemaOnly",
            "a schema-only restore has no rows to compare".to_string(),
        )
    } else {
        match s.tables_compared {
            None => {
                let message = "verify.rowCounts: the restore Job reported no row counts to compare"
                    .to_string();
                set_condition(
                    &mut s,
                    VERIFIED,
                    "False",
                    "NoRowCounts",
                    &message,
                    i.now,
                    i.generation,
                );
                return fail(i, s, "VerificationUnavailable", message);
            }
            Some(0) if s.mismatches.is_empty() => (
                "Unknown",
                "NothingCompared",
                "the backup's manifest has no row counts to compare (the policy's \
                 dump.rowCounts is off, or no restored table has a count)"
                    .to_string(),
            ),
            Some(n) if s.mismatches.is_empty() => (
                "True",
                "RowCountsMatch",
                format!("row counts of {n} tables match the backup's manifest"),
            ),
            Some(n) => {
                let message = mismatch_message(&s.mismatches, 0, i64::from(n));
                return row_count_mismatch(i, s, message);
            }
        }
    };
    set_condition(
        &mut s,
        VERIFIED,
        value,
        reason,
        &message,
        i.now,
        i.generation,
    );
    s.reason = Some(reason.to_string());
    s.message = Some(message.clone());
    let mut events = vec![Note::normal("Verified", message)];
    if s.writers.iter().any(|w| !w.restarted) {
        enter(&mut s, RestorePhase::RestartingWriters, i.now);
        s.message = Some("restarting writers".into());
        return commit(i, s, Vec::new(), events, Some(SOON));
    }
    events.push(succeeded(i, &mut s, &[]));
    commit(i, s, Vec::new(), events, None)
}

/// Finishes successfully.
fn succeeded(i: &Inputs<'_>, s: &mut RestoreRequestStatus, missing: &[String]) -> Note {
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

fn restarting_writers(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    // A restore that is still running (being deleted) must end before writers return.
    let running: Vec<&str> = i
        .jobs
        .iter()
        .filter(|j| !j.state.is_finished())
        .map(|j| j.name.as_str())
        .collect();
    if !running.is_empty() {
        let actions = running
            .iter()
            .map(|n| Action::DeleteJob {
                name: (*n).to_string(),
            })
            .collect();
        s.message = Some(format!(
            "waiting for Job {} to stop before restarting writers",
            running.join(", ")
        ));
        return commit(i, s, actions, Vec::new(), Some(WRITER_POLL));
    }
    let mut actions = Vec::new();
    let mut missing = Vec::new();
    for w in s.writers.iter_mut().filter(|w| !w.restarted) {
        match i.writer(w.kind, &w.name).map(|o| o.state) {
            Some(WorkloadState::Present { replicas, .. }) => {
                w.restarted = replicas == w.previous_replicas;
                if !w.restarted {
                    actions.push(Action::Scale {
                        kind: w.kind,
                        name: w.name.clone(),
                        replicas: w.previous_replicas,
                    });
                }
            }
            None | Some(WorkloadState::Missing) => missing.push(format!(
                "{} {} ({} replicas)",
                kind_name(w.kind),
                w.name,
                w.previous_replicas
            )),
        }
    }
    if !actions.is_empty() {
        // Scaling up is confirmed by the next read of `spec.replicas`.
        return commit(i, s, actions, Vec::new(), Some(SOON));
    }
    let mut events = Vec::new();
    if let Some(failure) = recorded_failure(&s).cloned() {
        finish(&mut s, RestorePhase::Failed, i.now);
        let mut message = failure.message.clone();
        message.push_str("; writers restored to their previous replica counts");
        if !missing.is_empty() {
            message.push_str(&format!(
                " (not restarted because they no longer exist: {})",
                missing.join(", ")
            ));
        }
        s.reason = Some(failure.reason.clone());
        s.message = Some(message.clone());
        events.push(Note::normal("WritersRestarted", message));
    } else {
        events.push(succeeded(i, &mut s, &missing));
    }
    commit(i, s, Vec::new(), events, None)
}
