//! The Jobs of a BackupPolicy: backup, prune, verify and restore-test.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use kube::Resource;
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::env as var;

use super::builder::{JobOwner, RunnerJob, build, labels};
use super::env::{self, value};
use super::volumes::{DB_CA_PATH, S3_CA_PATH, secret_file};
use crate::naming::RunKind;

pub use super::defaults::JobDefaults;

/// Why a Job cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("the object has no uid or namespace yet (not read from the API server)")]
    NotPersisted,
    /// The policy does not configure this kind of run (e.g. no `spec.restoreTest`).
    #[error("{0} is not configured in the policy")]
    NotConfigured(&'static str),
    /// A field holds a value the API schema should have refused.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Why a Job runs: a tick of the schedule or a `runNow` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Scheduled(DateTime<Utc>),
    RunNow(String),
}

/// The controller owner reference of `obj` with its owner `label` (e.g.
/// [`labels::POLICY`]), and `obj`'s namespace: where its Jobs go.
pub(crate) fn owner_of<K: Resource<DynamicType = ()>>(
    obj: &K,
    label: &'static str,
) -> Result<(JobOwner, String), BuildError> {
    let reference = obj
        .controller_owner_ref(&())
        .ok_or(BuildError::NotPersisted)?;
    let ns = obj
        .meta()
        .namespace
        .clone()
        .ok_or(BuildError::NotPersisted)?;
    Ok((JobOwner { reference, label }, ns))
}

pub(crate) fn owner(policy: &BackupPolicy) -> Result<(JobOwner, String), BuildError> {
    owner_of(policy, labels::POLICY)
}

pub(crate) fn policy_env(policy: &BackupPolicy, ns: &str) -> Vec<EnvVar> {
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

pub(crate) fn storage_mounts(
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

pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(dir, _)| dir)
}

/// The runner image of the policy's Jobs: `jobTemplate.image`, else the operator default.
pub(crate) fn runner_image(policy: &BackupPolicy, defaults: &JobDefaults) -> String {
    policy
        .spec
        .job_template
        .image
        .clone()
        .unwrap_or_else(|| defaults.runner_image.clone())
}

/// `(scheduled, run_now)` of a trigger, for the Job's annotations.
pub(crate) fn trigger_parts(trigger: &Trigger) -> (Option<DateTime<Utc>>, Option<String>) {
    match trigger {
        Trigger::Scheduled(t) => (Some(*t), None),
        Trigger::RunNow(v) => (None, Some(v.clone())),
    }
}

/// The backup Job for one trigger.
pub fn backup_job(
    policy: &BackupPolicy,
    name: String,
    trigger: &Trigger,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(policy)?;
    let spec = &policy.spec;
    let mut env = policy_env(policy, &ns);
    env.extend(env::database(&spec.database));
    env.extend(env::dump(&spec.dump));
    if let Some(enc) = &spec.encryption {
        if let Some(list) = &enc.recipients {
            env.push(value(var::AGE_RECIPIENTS, list.join(",")));
        }
        if let Some(r) = &enc.recipients_secret_ref {
            env.push(env::secret(var::AGE_RECIPIENTS, r));
        }
    }
    let mut mounts = storage_mounts(policy);
    if let Some(ca) = &spec.database.ca_secret_ref {
        mounts.push(secret_file("db-ca", parent(DB_CA_PATH), ca));
    }
    let (scheduled, run_now) = match trigger {
        Trigger::Scheduled(t) => (Some(*t), None),
        Trigger::RunNow(v) => (None, Some(v.clone())),
    };
    Ok(build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind: RunKind::Backup,
        image: spec
            .job_template
            .image
            .clone()
            .unwrap_or_else(|| defaults.runner_image.clone()),
        args: vec!["backup".to_string()],
        env,
        mounts,
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds: crate::policy::effective::deadline_seconds(spec),
        scheduled,
        run_now,
        sidecars: Vec::new(),
    }))
}
