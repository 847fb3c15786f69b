//! The backup Job (`tidemark-runner backup`) of a BackupPolicy, for one trigger.

use k8s_openapi::api::batch::v1::Job;
use tidemark_crd::BackupPolicy;
use tidemark_crd::contract::env as var;

use super::{Trigger, owner, policy_env, storage_mounts};
use crate::backup_policy::validate::ParsedSpec;
use crate::naming::RunKind;
use crate::runtime::job::builder::{RunnerJob, build};
use crate::runtime::job::env::{self, value};
use crate::runtime::job::volumes::{DB_CA_PATH, secret_file};
use crate::runtime::job::{BuildError, JobDefaults, parent};

/// The backup Job for one trigger.
pub fn backup_job(
    policy: &BackupPolicy,
    parsed: &ParsedSpec<'_>,
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
        deadline_seconds: parsed.effective.deadline_seconds,
        scheduled,
        run_now,
        sidecars: Vec::new(),
    }))
}
