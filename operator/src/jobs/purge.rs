//! The purge Job of `deletionPolicy: Delete`: `tidemark-runner prune` with
//! `TIDEMARK_PRUNE_ALL=true` deletes every object under the policy's own prefix
//! (`<prefix>/<namespace>/<policy>/`) before the finalizer lets the policy go.
//! Its name is [`crate::naming::request_job_name`]`(policy, RunKind::Purge)`: one per policy.

use k8s_openapi::api::batch::v1::Job;
use tidemark_crd::BackupPolicy;

use super::builder::{RunnerJob, build};
use super::env::value;
use super::policy::{BuildError, JobDefaults, owner, policy_env, runner_image, storage_mounts};
use crate::naming::RunKind;

/// The prune-everything Job named `name`.
pub fn purge_job(
    policy: &BackupPolicy,
    name: String,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(policy)?;
    let spec = &policy.spec;
    let mut env = policy_env(policy, &ns);
    env.push(value("TIDEMARK_PRUNE_ALL", "true"));
    Ok(build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind: RunKind::Purge,
        image: runner_image(policy, defaults),
        args: vec!["prune".to_string()],
        env,
        mounts: storage_mounts(policy),
        template: &spec.job_template,
        deadline_seconds: spec.deadline_seconds,
        scheduled: None,
        run_now: None,
        sidecars: Vec::new(),
    }))
}
