//! What the controller observes about a policy's Jobs, reduced to plain data.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use tidemark_crd::contract::result::RunnerReport;

use crate::naming::RunKind;
use crate::runtime::job::builder::{RUNNER_CONTAINER, labels};
use crate::time::to_chrono;

/// State of one Job.
#[derive(Clone, Debug, PartialEq)]
pub enum JobState {
    /// Still running (or waiting to be scheduled).
    Active,
    /// Finished successfully, with the runner's report when it could be read.
    Succeeded(Option<RunnerReport>),
    /// Failed: the reason (e.g. `BackoffLimitExceeded`, `DeadlineExceeded`) and the
    /// runner's report when it wrote one.
    Failed {
        reason: String,
        message: String,
        report: Option<RunnerReport>,
        exit_code: Option<i32>,
    },
}

impl JobState {
    /// Whether the Job has finished, one way or the other.
    pub fn is_finished(&self) -> bool {
        !matches!(self, JobState::Active)
    }
}

/// One Job of a policy, as plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedJob {
    pub name: String,
    pub kind: Option<RunKind>,
    pub scheduled: Option<DateTime<Utc>>,
    pub run_now: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub state: JobState,
    /// Why the runner container is stuck or died without a report (e.g.
    /// `CreateContainerConfigError` for a missing Secret), from the newest pod.
    pub pod_problem: Option<PodProblem>,
}

/// What the kubelet says is wrong with the runner container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodProblem {
    /// `CreateContainerConfigError`, `ImagePullBackOff`, `Error`, `OOMKilled`, …
    pub reason: String,
    /// The kubelet's message (names Secrets and keys, never their values).
    pub message: String,
}

/// Waiting reasons that are part of a normal start, not a problem.
const NORMAL_WAITING: [&str; 2] = ["ContainerCreating", "PodInitializing"];

/// The problem of the newest pod's runner container, if any: a waiting reason other
/// than a normal start, or a termination without a readable report.
pub fn pod_problem(pods: &[Pod]) -> Option<PodProblem> {
    let newest = pods.iter().max_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().and_then(to_chrono);
        (created(a), &a.metadata.name).cmp(&(created(b), &b.metadata.name))
    })?;
    let cs = newest
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())?
        .iter()
        .find(|c| c.name == RUNNER_CONTAINER)?;
    let state = cs.state.as_ref()?;
    if let Some(w) = &state.waiting {
        let reason = w.reason.clone().unwrap_or_default();
        if reason.is_empty() || NORMAL_WAITING.contains(&reason.as_str()) {
            return None;
        }
        return Some(PodProblem {
            reason,
            message: w.message.clone().unwrap_or_default(),
        });
    }
    let t = state.terminated.as_ref()?;
    let has_report = t
        .message
        .as_deref()
        .is_some_and(|m| serde_json::from_str::<RunnerReport>(m.trim()).is_ok());
    if t.exit_code == 0 || has_report {
        return None;
    }
    Some(PodProblem {
        reason: t.reason.clone().unwrap_or_else(|| "Error".to_string()),
        message: format!(
            "the runner exited with code {} without a report",
            t.exit_code
        ),
    })
}

/// The runner's report and exit code from the newest terminated runner container of
/// the Job's pods.
pub fn report_from_pods(pods: &[Pod]) -> (Option<RunnerReport>, Option<i32>) {
    let mut best: Option<(DateTime<Utc>, Option<RunnerReport>, i32)> = None;
    for pod in pods {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref());
        for cs in statuses.into_iter().flatten() {
            if cs.name != RUNNER_CONTAINER {
                continue;
            }
            let Some(term) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
                continue;
            };
            let at = term
                .finished_at
                .as_ref()
                .and_then(to_chrono)
                .unwrap_or_default();
            let report = term
                .message
                .as_deref()
                .and_then(|m| serde_json::from_str::<RunnerReport>(m.trim()).ok());
            if best.as_ref().is_none_or(|(t, _, _)| at >= *t) {
                best = Some((at, report, term.exit_code));
            }
        }
    }
    match best {
        Some((_, report, code)) => (report, Some(code)),
        None => (None, None),
    }
}

/// Reduces a Job (and its pods) to an [`ObservedJob`].
pub fn observe(job: &Job, pods: &[Pod]) -> ObservedJob {
    let meta = &job.metadata;
    let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).cloned();
    let annotation = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k)).cloned();
    let status = job.status.as_ref();
    let condition = |t: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == t && c.status == "True"))
    };
    let finished = status
        .and_then(|s| s.completion_time.as_ref())
        .and_then(to_chrono)
        .or_else(|| {
            condition("Failed").and_then(|c| c.last_transition_time.as_ref().and_then(to_chrono))
        });
    let state = if condition("Complete").is_some() || condition("SuccessCriteriaMet").is_some() {
        JobState::Succeeded(report_from_pods(pods).0)
    } else if let Some(c) = condition("Failed").or_else(|| condition("FailureTarget")) {
        let (report, exit_code) = report_from_pods(pods);
        JobState::Failed {
            reason: c.reason.clone().unwrap_or_else(|| "Failed".into()),
            message: c.message.clone().unwrap_or_default(),
            report,
            exit_code,
        }
    } else {
        JobState::Active
    };
    ObservedJob {
        name: meta.name.clone().unwrap_or_default(),
        kind: label(labels::RUN_KIND)
            .as_deref()
            .and_then(RunKind::from_label),
        scheduled: annotation(labels::SCHEDULED_TIME)
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.with_timezone(&Utc)),
        run_now: annotation(labels::RUN_NOW),
        created: meta.creation_timestamp.as_ref().and_then(to_chrono),
        finished,
        state,
        pod_problem: pod_problem(pods),
    }
}
