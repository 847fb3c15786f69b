//! What the RestoreRequest controller observes, reduced to plain data: the policy it
//! restores from, its own Jobs (with pods that cannot start), and the writer workloads.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use tidemark_crd::BackupPolicy;
use tidemark_crd::restore_request::{RestoreRequestSpec, RestoreRequestStatus, WorkloadKind};

use crate::jobs::builder::RUNNER_CONTAINER;
use crate::policy::observed::ObservedJob;

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

/// A pod of a Job that cannot start, e.g. because a Secret it needs is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The kubelet's waiting reason (`CreateContainerConfigError`, `ImagePullBackOff`, …).
    pub reason: String,
    /// The kubelet's message (names Secrets and keys, never their values).
    pub message: String,
}

/// Waiting reasons after which a pod will not start without someone changing something.
pub const BLOCKING_REASONS: [&str; 5] = [
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "ImagePullBackOff",
    "ErrImageNeverPull",
];

/// The first container of `pods` that waits for a reason in [`BLOCKING_REASONS`].
pub fn blocked(pods: &[Pod]) -> Option<Blocked> {
    pods.iter()
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .filter_map(|cs| {
            let waiting = cs.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.clone()?;
            BLOCKING_REASONS
                .contains(&reason.as_str())
                .then(|| Blocked {
                    message: waiting.message.clone().unwrap_or_default(),
                    reason: if cs.name == RUNNER_CONTAINER {
                        reason
                    } else {
                        format!("{reason} ({})", cs.name)
                    },
                })
        })
        .next()
}

/// One Job of the request and, if its pod cannot start, why.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestJob {
    pub job: ObservedJob,
    pub blocked: Option<Blocked>,
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
    pub jobs: &'a [RequestJob],
    pub writers: &'a [Workload],
    pub now: DateTime<Utc>,
}

impl Inputs<'_> {
    /// The observed Job called `name`.
    pub fn job(&self, name: &str) -> Option<&RequestJob> {
        self.jobs.iter().find(|j| j.job.name == name)
    }

    /// The observed writer `kind`/`name`.
    pub fn writer(&self, kind: WorkloadKind, name: &str) -> Option<&Workload> {
        self.writers
            .iter()
            .find(|w| w.kind == kind && w.name == name)
    }
}
