//! Following the request's Jobs: where each stands (recorded in status once seen, so
//! one that disappears is never created again), and why one failed or cannot start.

use tidemark_crd::contract::result::RunnerReport;
use tidemark_crd::restore_request::{RestoreJobs, RestoreRequestStatus};

use super::decide::{fail, policy_spec};
use super::fields::{field_of_runner_failure, fields_for_secret_message};
use super::observed::{Inputs, blocking_problem};
use super::step::Step;
use crate::naming::{RunKind, request_job_name};
use crate::runtime::observed::{JobState, PodProblem};

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

pub(super) fn vanished(i: &Inputs<'_>, s: RestoreRequestStatus, what: &str, name: &str) -> Step {
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
