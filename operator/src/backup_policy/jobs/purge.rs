//! The purge Job of `deletionPolicy: Delete`: `tidemark-runner prune` with
//! `TIDEMARK_PRUNE_ALL=true` deletes every object under the policy's own prefix
//! (`<prefix>/<namespace>/<policy>/`) before the finalizer lets the policy go.
//! Its name is [`crate::naming::request_job_name`]`(policy, RunKind::Purge)`: one per policy.

use k8s_openapi::api::batch::v1::Job;
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::env as var;

use super::prune::prune_runner_job;
use crate::backup_policy::effective;
use crate::naming::RunKind;
use crate::runtime::job::env::value;
use crate::runtime::job::{BuildError, JobDefaults};

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
        // Also for a policy whose spec no longer validates: it is being deleted.
        effective::deadline_seconds(&policy.spec),
        defaults,
    )
}
