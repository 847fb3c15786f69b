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
    env.extend(env::s3_objects(&spec.s3));
    env.extend(env::database(&spec.database));
    env.extend(env::dump(&spec.dump));
    if let Some(selection) = &spec.databases {
        env.extend(databases_env(selection));
    }
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

/// The runner's database selection of a policy with `spec.databases` (one name per
/// line).
fn databases_env(
    selection: &tidemark_crd::backup_policy::DatabaseSelection,
) -> Vec<k8s_openapi::api::core::v1::EnvVar> {
    let mut env = Vec::new();
    if !selection.names.is_empty() {
        env.push(value(var::DATABASES, selection.names.join("\n")));
    }
    if selection.all {
        env.push(value(var::DATABASES_ALL, "true".to_string()));
        if !selection.exclude.is_empty() {
            env.push(value(var::DATABASES_EXCLUDE, selection.exclude.join("\n")));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use tidemark_crd::backup_policy::DatabaseSelection;

    use super::*;

    fn pairs(env: &[k8s_openapi::api::core::v1::EnvVar]) -> Vec<(String, String)> {
        env.iter()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_selection_becomes_the_runners_database_list() {
        let names = DatabaseSelection {
            names: vec!["shop".into(), "audit".into()],
            ..DatabaseSelection::default()
        };
        assert_eq!(
            pairs(&databases_env(&names)),
            vec![(var::DATABASES.to_string(), "shop\naudit".to_string())]
        );
        let all = DatabaseSelection {
            all: true,
            exclude: vec!["postgres".into()],
            ..DatabaseSelection::default()
        };
        assert_eq!(
            pairs(&databases_env(&all)),
            vec![
                (var::DATABASES_ALL.to_string(), "true".to_string()),
                (var::DATABASES_EXCLUDE.to_string(), "postgres".to_string()),
            ]
        );
    }
}
