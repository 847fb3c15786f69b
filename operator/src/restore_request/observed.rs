//! What the RestoreRequest controller observes, reduced to plain data: the policy it
//! restores from, its own Jobs, and the writer workloads.

use chrono::{DateTime, Utc};
use tidemark_crd::BackupPolicy;
use tidemark_crd::restore_request::{RestoreRequestSpec, RestoreRequestStatus, WorkloadKind};

use crate::runtime::observed::{ObservedJob, PodProblem};

/// The BackupPolicy named by `source.policyRef`.
#[derive(Clone, Copy, Debug)]
pub enum PolicyView<'a> {
    /// The source is explicit; no policy is involved.
    NotReferenced,
    /// The referenced policy does not exist.
    Missing,
    /// The referenced policy.
    Found(&'a BackupPolicy),
}

/// Waiting reasons after which a pod will not start without someone changing something
/// (a missing Secret or key, a wrong image, a root image under `runAsNonRoot`).
pub const BLOCKING_REASONS: [&str; 5] = [
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "ImagePullBackOff",
    "ErrImageNeverPull",
];

/// The problem that keeps a running Job's pod from ever starting, if any.
pub fn blocking_problem(job: &ObservedJob) -> Option<&PodProblem> {
    if job.state.is_finished() {
        return None;
    }
    job.pod_problem
        .as_ref()
        .filter(|p| BLOCKING_REASONS.contains(&p.reason.as_str()))
}

/// A writer workload as observed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadState {
    /// The Deployment or StatefulSet does not exist.
    Missing,
    /// It exists with `spec.replicas` and this many pods (any phase, also terminating).
    Present { replicas: i32, pods: u32 },
}

/// One entry of `spec.stopWriters`, observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    pub state: WorkloadState,
}

/// Everything a decision depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub generation: Option<i64>,
    pub spec: &'a RestoreRequestSpec,
    pub status: &'a RestoreRequestStatus,
    pub policy: PolicyView<'a>,
    pub jobs: &'a [ObservedJob],
    pub writers: &'a [Workload],
    /// The request is being deleted (it carries our finalizer until writers are back).
    pub deleting: bool,
    pub now: DateTime<Utc>,
}

impl Inputs<'_> {
    /// The observed Job called `name`.
    pub fn job(&self, name: &str) -> Option<&ObservedJob> {
        self.jobs.iter().find(|j| j.name == name)
    }

    /// The observed writer `kind`/`name`.
    pub fn writer(&self, kind: WorkloadKind, name: &str) -> Option<&Workload> {
        self.writers
            .iter()
            .find(|w| w.kind == kind && w.name == name)
    }
}
