//! The Jobs of a BackupPolicy: backup, prune (retention), verify, restore-test and
//! purge, each built (pure) on the shared runner-Job shape of [`crate::runtime::job`].
//! [`build`] turns each [`PolicyJob`] a plan launches into its Job.

pub mod backup;
pub mod prune;
pub mod purge;
pub mod restore_test;
pub mod verify;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use kube::Resource;
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::env as var;

use super::decide::{Launch, PolicyJob};
use super::validate::ParsedSpec;
use crate::runtime::job::builder::{JobOwner, labels};
use crate::runtime::job::env::{self, value};
use crate::runtime::job::volumes::{S3_CA_PATH, secret_file};
use crate::runtime::job::{BuildError, JobDefaults, owner_of, parent};

pub use backup::backup_job;
pub use prune::prune_job;
pub use purge::purge_job;
pub use restore_test::restore_test_job;
pub use verify::verify_job;

/// Why a Job runs: a tick of the schedule or a `runNow` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Scheduled(DateTime<Utc>),
    RunNow(String),
}

/// Builds the Job a plan asks for (every kind of [`PolicyJob`], from the parsed spec).
pub fn build(
    policy: &BackupPolicy,
    parsed: &ParsedSpec<'_>,
    l: &Launch,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let name = l.name.clone();
    match &l.job {
        PolicyJob::Backup => backup_job(policy, parsed, name, &l.trigger, defaults),
        PolicyJob::Prune { after } => prune_job(policy, parsed, name, after, defaults),
        PolicyJob::Verify => verify_job(policy, parsed, name, &l.trigger, defaults),
        PolicyJob::RestoreTest => restore_test_job(policy, name, &l.trigger, defaults),
    }
}

/// The owner reference and namespace of the policy's Jobs.
pub fn owner(policy: &BackupPolicy) -> Result<(JobOwner, String), BuildError> {
    owner_of(policy, labels::POLICY)
}

/// The policy's identity and bucket settings, first in every Job's environment.
pub fn policy_env(policy: &BackupPolicy, ns: &str) -> Vec<EnvVar> {
    let mut env = vec![
        value(var::POLICY_NAMESPACE, ns),
        value(
            var::POLICY_NAME,
            policy.meta().name.clone().unwrap_or_default(),
        ),
    ];
    env.extend(env::s3(&policy.spec.s3));
    env
}

/// The mounts every Job of the policy needs (the S3 CA bundle, if any).
pub fn storage_mounts(
    policy: &BackupPolicy,
) -> Vec<(
    k8s_openapi::api::core::v1::Volume,
    k8s_openapi::api::core::v1::VolumeMount,
)> {
    let mut mounts = Vec::new();
    if let Some(ca) = &policy.spec.s3.ca_bundle_secret_ref {
        mounts.push(secret_file("s3-ca", parent(S3_CA_PATH), ca));
    }
    mounts
}

/// The runner image of the policy's Jobs: `jobTemplate.image`, else the operator default.
pub fn runner_image(policy: &BackupPolicy, defaults: &JobDefaults) -> String {
    policy
        .spec
        .job_template
        .image
        .clone()
        .unwrap_or_else(|| defaults.runner_image.clone())
}

/// `(scheduled, run_now)` of a trigger, for the Job's annotations.
pub fn trigger_parts(trigger: &Trigger) -> (Option<DateTime<Utc>>, Option<String>) {
    match trigger {
        Trigger::Scheduled(t) => (Some(*t), None),
        Trigger::RunNow(v) => (None, Some(v.clone())),
    }
}
