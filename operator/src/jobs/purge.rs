//! The purge Job of `deletionPolicy: Delete`: `tidemark-runner prune` with
//! `TIDEMARK_PRUNE_ALL=true` deletes every object under the policy's own prefix
//! (`<prefix>/<namespace>/<policy>/`) before the finalizer lets the policy go.
//! Its name is [`crate::naming::request_job_name`]`(policy, RunKind::Purge)`: one per policy.

use k8s_openapi::api::batch::v1::Job;
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::env as var;

use super::env::value;
use super::policy::{BuildError, JobDefaults};
use super::prune::prune_runner_job;
use crate::naming::RunKind;

/// The prune-everything Job named `name`.
pub fn purge_job(
    policy: &BackupPolicy,
    name: String,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    prune_runner_job(
        policy,
        name,
        RunKind::Purge,
        vec![value(var::PRUNE_ALL, "true")],
        defaults,
    )
}
