//! Finished Jobs not yet recorded in the status, as results to record (each Job once).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tidemark_crd::contract::result::RunnerReport;

use crate::naming::RunKind;
use crate::runtime::observed::{JobState, ObservedJob};

/// How many finished Job names the status remembers (`status.recordedJobs`).
pub const MAX_RECORDED_JOBS: usize = 64;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Succeeded,
    Failed {
        /// Machine-readable reason: the runner's, else the pod's, else the Job's.
        reason: String,
        /// What went wrong (secret-free: the runner's message or the kubelet's).
        message: String,
        exit_code: Option<i32>,
    },
}

/// One finished run to record.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub job_name: String,
    pub kind: RunKind,
    pub finished: DateTime<Utc>,
    pub outcome: RunOutcome,
    pub report: Option<RunnerReport>,
}

impl RunResult {
    /// Whether the run succeeded.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, RunOutcome::Succeeded)
    }

    /// Run time from the report, in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        let r = self.report.as_ref()?;
        let ms = (r.finished_at - r.started_at).num_milliseconds();
        (ms >= 0).then(|| ms as f64 / 1000.0)
    }
}

fn failure(job: &ObservedJob, reason: &str, message: &str, exit: Option<i32>) -> RunOutcome {
    let report_error = match &job.state {
        JobState::Failed { report, .. } | JobState::Succeeded(report) => {
            report.as_ref().and_then(|r| r.error.as_ref())
        }
        JobState::Active => None,
    };
    if let Some(e) = report_error {
        return RunOutcome::Failed {
            reason: e.reason.clone(),
            message: e.message.clone(),
            exit_code: exit,
        };
    }
    if let Some(p) = &job.pod_problem {
        let message = if message.is_empty() {
            p.message.clone()
        } else if p.message.is_empty() {
            message.to_string()
        } else {
            format!("{}: {} (Job: {message})", p.reason, p.message)
        };
        return RunOutcome::Failed {
            reason: p.reason.clone(),
            message,
            exit_code: exit,
        };
    }
    RunOutcome::Failed {
        reason: reason.to_string(),
        message: message.to_string(),
        exit_code: exit,
    }
}

/// The result of one finished Job.
pub fn result_of(job: &ObservedJob, now: DateTime<Utc>) -> Option<RunResult> {
    let kind = job.kind?;
    let (outcome, report) = match &job.state {
        JobState::Active => return None,
        JobState::Succeeded(report) => match report.as_ref().and_then(|r| r.error.as_ref()) {
            // A runner that reported an error but exited 0 still failed.
            Some(e) => (
                RunOutcome::Failed {
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                    exit_code: Some(0),
                },
                report.clone(),
            ),
            None => (RunOutcome::Succeeded, report.clone()),
        },
        JobState::Failed {
            reason,
            message,
            report,
            exit_code,
        } => (failure(job, reason, message, *exit_code), report.clone()),
    };
    Some(RunResult {
        job_name: job.name.clone(),
        kind,
        finished: job
            .finished
            .or_else(|| report.as_ref().map(|r| r.finished_at))
            .unwrap_or(now),
        outcome,
        report,
    })
}

/// Finished Jobs that `recorded` does not list yet, oldest first.
///
/// When `recorded` is full, a Job that finished before the oldest recorded one was
/// recorded earlier and trimmed from the list since (results are recorded in finishing
/// order), so it is not counted again.
pub fn new_results(
    jobs: &[ObservedJob],
    recorded: &[String],
    now: DateTime<Utc>,
) -> Vec<RunResult> {
    let seen: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    let floor = if recorded.len() >= MAX_RECORDED_JOBS {
        jobs.iter()
            .filter(|j| seen.contains(j.name.as_str()))
            .filter_map(|j| j.finished)
            .min()
    } else {
        None
    };
    let mut out: Vec<RunResult> = jobs
        .iter()
        .filter(|j| !seen.contains(j.name.as_str()))
        .filter_map(|j| result_of(j, now))
        .filter(|r| floor.is_none_or(|f| r.finished >= f))
        .collect();
    out.sort_by(|a, b| (a.finished, &a.job_name).cmp(&(b.finished, &b.job_name)));
    out
}

/// The new `recordedJobs`: recorded names of Jobs that still exist, then the newly
/// recorded ones, keeping the newest [`MAX_RECORDED_JOBS`].
pub fn recorded_after(
    previous: &[String],
    jobs: &[ObservedJob],
    recorded_now: &[RunResult],
) -> Vec<String> {
    let existing: HashSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    let mut list: Vec<String> = previous
        .iter()
        .filter(|n| existing.contains(n.as_str()))
        .cloned()
        .collect();
    list.extend(recorded_now.iter().map(|r| r.job_name.clone()));
    if list.len() > MAX_RECORDED_JOBS {
        list.drain(..list.len() - MAX_RECORDED_JOBS);
    }
    list
}
