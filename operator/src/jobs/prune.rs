//! The retention Job (`tidemark-runner prune`) that follows each successful backup.
//!
//! It is launched only after a backup Job succeeded, never after a failed one (the
//! controller decides that); its name derives from the backup Job's name
//! ([`crate::naming::follow_up_job_name`]), so each backup is pruned after at most once.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::Retention;
use tidemark_crd::contract::env as var;

use super::builder::{RunnerJob, build};
use super::env::value;
use super::policy::{BuildError, JobDefaults, owner, policy_env, runner_image, storage_mounts};
use crate::naming::RunKind;

/// Annotation on a prune Job naming the backup Job it follows.
pub const AFTER_JOB_ANNOTATION: &str = "tidemark.dev/after-job";

/// Retention settings as runner environment: the keep counts, the policy's time zone
/// (retention periods are local days/weeks/months) and the orphan grace period.
pub fn retention_env(retention: &Retention, time_zone: &str) -> Vec<EnvVar> {
    vec![
        value(var::KEEP_HOURLY, retention.hourly.to_string()),
        value(var::KEEP_DAILY, retention.daily.to_string()),
        value(var::KEEP_WEEKLY, retention.weekly.to_string()),
        value(var::KEEP_MONTHLY, retention.monthly.to_string()),
        value(var::KEEP_YEARLY, retention.yearly.to_string()),
        value(var::TIME_ZONE, time_zone),
        value(
            var::ORPHAN_GRACE_PERIOD,
            retention.orphan_grace_period.clone(),
        ),
    ]
}

/// The prune Job named `name` that runs after the backup Job `after_backup_job`
/// succeeded. Retention applies to this policy's prefix only.
pub fn prune_job(
    policy: &BackupPolicy,
    name: String,
    after_backup_job: &str,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let mut job = prune_runner_job(
        policy,
        name,
        RunKind::Prune,
        retention_env(&policy.spec.retention, &policy.spec.time_zone),
        defaults,
    )?;
    job.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(
            AFTER_JOB_ANNOTATION.to_string(),
            after_backup_job.to_string(),
        );
    Ok(job)
}

/// A `tidemark-runner prune` Job of `kind` for the policy's storage, with the policy's
/// environment followed by `extra_env`.
pub(crate) fn prune_runner_job(
    policy: &BackupPolicy,
    name: String,
    kind: RunKind,
    extra_env: Vec<EnvVar>,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(policy)?;
    let spec = &policy.spec;
    let mut env = policy_env(policy, &ns);
    env.extend(extra_env);
    Ok(build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind,
        image: runner_image(policy, defaults),
        args: vec!["prune".to_string()],
        env,
        mounts: storage_mounts(policy),
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds: crate::policy::effective::deadline_seconds(spec),
        scheduled: None,
        run_now: None,
        sidecars: Vec::new(),
    }))
}
