//! The verification Job (`tidemark-runner verify`): checks the newest backup of the
//! policy (manifest and object present, size at least `minSize`, SHA-256 recomputed,
//! completed within `maxAge`). It runs on `spec.verification.schedule`.
//!
//! Verification reads stored bytes only; it never decrypts, so it needs no identity.

use k8s_openapi::api::batch::v1::Job;
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::env as var;

use super::builder::{RunnerJob, build};
use super::env::value;
use super::policy::{
    BuildError, JobDefaults, Trigger, owner, policy_env, runner_image, storage_mounts,
    trigger_parts,
};
use crate::naming::RunKind;

/// The verification Job for one trigger. Fails with [`BuildError::NotConfigured`] when
/// `spec.verification.enabled` is false.
pub fn verify_job(
    policy: &BackupPolicy,
    name: String,
    trigger: &Trigger,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(policy)?;
    let spec = &policy.spec;
    if !spec.verification.enabled {
        return Err(BuildError::NotConfigured("spec.verification"));
    }
    let effective = crate::policy::effective::of(spec).ok_or(BuildError::Invalid(
        "spec.schedule: no longest gap between runs (invalid schedule or duration)",
    ))?;
    let mut env = policy_env(policy, &ns);
    if let Some(min_size) = &spec.verification.min_size {
        let min_size = tidemark_crd::units::parse_size(min_size).map_err(|_| {
            BuildError::Invalid("spec.verification.minSize: not a Kubernetes quantity")
        })?;
        // In bytes: the plainest spelling of the size the runner reads back.
        env.push(value(var::VERIFY_MIN_SIZE, min_size.to_string()));
    } else {
        // No absolute floor: only an empty object fails MinimumSize.
        env.push(value(var::VERIFY_MIN_SIZE, "1"));
    }
    env.push(value(
        var::VERIFY_MAX_AGE,
        crate::policy::effective::duration_text(effective.max_age),
    ));
    env.push(value(
        var::VERIFY_MAX_SHRINK_PERCENT,
        spec.verification.max_shrink_percent.to_string(),
    ));
    let (scheduled, run_now) = trigger_parts(trigger);
    Ok(build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind: RunKind::Verify,
        image: runner_image(policy, defaults),
        args: vec!["verify".to_string()],
        env,
        mounts: storage_mounts(policy),
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds: effective.deadline_seconds,
        scheduled,
        run_now,
        sidecars: Vec::new(),
    }))
}
