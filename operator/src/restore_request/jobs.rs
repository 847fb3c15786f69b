//! The Jobs of a RestoreRequest: `list` (resolving the backup of an explicit source or
//! one the policy's inventory does not show yet), `restore` (checksum-gated, one
//! transaction), and the optional post-restore Job (the user's image and command, e.g.
//! schema migrations). All are shaped by [`crate::runtime::job::builder`]; credentials are Secret
//! references only.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, Volume, VolumeMount};
use tidemark_crd::RestoreRequest;
use tidemark_crd::contract::env as var;
use tidemark_crd::contract::values::RestoreContent;

use super::select::Selection;
use super::source::BackupSource;
use crate::naming::RunKind;
use crate::runtime::job::builder::{JobOwner, RUNNER_CONTAINER, RunnerJob, build, labels};
use crate::runtime::job::env::{self, secret, value};
use crate::runtime::job::spool;
use crate::runtime::job::volumes::{DB_CA_PATH, S3_CA_PATH, secret_file};
use crate::runtime::job::{BuildError, JobDefaults, owner_of, parent};

/// Longest a `list` run may take (it reads manifests only).
pub const LIST_DEADLINE_SECONDS: i64 = 600;
/// Finished Jobs of a request are kept at least this long (whatever
/// `jobTemplate.ttlSecondsAfterFinished` says), so their result is always read before
/// Kubernetes deletes them.
pub const MIN_TTL_SECONDS: i32 = 3_600;

/// Applies [`MIN_TTL_SECONDS`].
fn keep_finished(mut job: Job) -> Job {
    if let Some(spec) = job.spec.as_mut() {
        let ttl = spec.ttl_seconds_after_finished.unwrap_or(MIN_TTL_SECONDS);
        spec.ttl_seconds_after_finished = Some(ttl.max(MIN_TTL_SECONDS));
    }
    job
}

fn owner(request: &RestoreRequest) -> Result<(JobOwner, String), BuildError> {
    owner_of(request, labels::RESTORE_REQUEST)
}

fn image(request: &RestoreRequest, defaults: &JobDefaults) -> String {
    request
        .spec
        .job_template
        .image
        .clone()
        .unwrap_or_else(|| defaults.runner_image.clone())
}

/// Policy identity and bucket settings of the source.
fn source_env(source: &BackupSource<'_>) -> Vec<EnvVar> {
    let mut env = vec![
        value(var::POLICY_NAMESPACE, source.policy_namespace),
        value(var::POLICY_NAME, source.policy_name),
    ];
    env.extend(env::s3(source.s3));
    env
}

fn source_mounts(source: &BackupSource<'_>) -> Vec<(Volume, VolumeMount)> {
    source
        .s3
        .ca_bundle_secret_ref
        .iter()
        .map(|ca| secret_file("s3-ca", parent(S3_CA_PATH), ca))
        .collect()
}

/// The `list` Job: lists the source and selects the backup `spec.backup` asks for
/// (report payload `list.selected`).
pub fn list_job(
    request: &RestoreRequest,
    source: &BackupSource<'_>,
    name: String,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(request)?;
    let spec = &request.spec;
    let mut env = source_env(source);
    match Selection::of(&spec.backup) {
        Selection::Latest => {}
        Selection::Key(key) => env.push(value(var::BACKUP_KEY, key)),
        Selection::Before(t) => env.push(value(
            var::BACKUP_BEFORE,
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )),
    }
    if let Some(db) = &spec.backup.database {
        env.push(value(var::BACKUP_DATABASE, db));
    }
    if spec.backup.restores_all_databases() {
        env.push(value(var::RESTORE_ALL_DATABASES, "true".to_string()));
    }
    Ok(keep_finished(build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind: RunKind::List,
        image: image(request, defaults),
        args: vec!["list".to_string()],
        env,
        mounts: source_mounts(source),
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds: spec.deadline_seconds.min(LIST_DEADLINE_SECONDS),
        scheduled: None,
        run_now: None,
        sidecars: Vec::new(),
    })))
}

/// The preflight Job (`restore --preflight`): the restore Job's settings, but it only
/// connects to the target and reports whether it holds user tables. It runs before any
/// writer is stopped.
pub fn preflight_job(
    request: &RestoreRequest,
    source: &BackupSource<'_>,
    key: &str,
    name: String,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let spec = &request.spec;
    let deadline = spec.deadline_seconds.min(LIST_DEADLINE_SECONDS);
    runner_restore_job(
        request,
        source,
        key,
        name,
        defaults,
        RunKind::Preflight,
        deadline,
    )
}

/// The `restore` Job for the resolved backup `key`.
pub fn restore_job(
    request: &RestoreRequest,
    source: &BackupSource<'_>,
    key: &str,
    name: String,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let deadline = request.spec.deadline_seconds;
    runner_restore_job(
        request,
        source,
        key,
        name,
        defaults,
        RunKind::Restore,
        deadline,
    )
}

fn runner_restore_job(
    request: &RestoreRequest,
    source: &BackupSource<'_>,
    key: &str,
    name: String,
    defaults: &JobDefaults,
    kind: RunKind,
    deadline_seconds: i64,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(request)?;
    let spec = &request.spec;
    let mut env = source_env(source);
    env.extend(env::database(&spec.target.connection));
    env.push(value(var::BACKUP_KEY, key));
    if let Some(db) = &spec.backup.database {
        env.push(value(var::BACKUP_DATABASE, db));
    }
    if spec.backup.restores_all_databases() {
        env.push(value(var::RESTORE_ALL_DATABASES, "true".to_string()));
    }
    env.push(value(var::RESTORE_CONTENT, spec.mode.content.env_value()));
    if !spec.mode.tables.is_empty() {
        env.push(value(var::RESTORE_TABLES, spec.mode.tables.join(",")));
    }
    env.push(value(var::RESTORE_CLEAN, spec.mode.cleans().to_string()));
    env.push(value(var::RESTORE_TRUNCATE, spec.mode.truncate.to_string()));
    env.push(value(
        var::CREATE_DATABASE,
        spec.target.create_database.to_string(),
    ));
    if spec.mode.no_owner {
        env.push(value(var::RESTORE_NO_OWNER, "true".to_string()));
    }
    if spec.mode.no_privileges {
        env.push(value(var::RESTORE_NO_PRIVILEGES, "true".to_string()));
    }
    env.push(value(
        var::RESTORE_ROLES,
        spec.target.roles.env_value().to_string(),
    ));
    if let Some(identity) = &spec.decryption_identity_secret_ref {
        env.push(secret(var::AGE_IDENTITY, identity));
    }
    let mut mounts = source_mounts(source);
    let effective = defaults.pod.apply(&spec.job_template);
    let parallelism = spool::parallelism(spec.parallelism, effective.resources.as_ref());
    let (spool_env, spool_mounts) = spool::settings(
        parallelism,
        spec.mode.content == RestoreContent::Full,
        spec.spool_size_limit.as_deref(),
    );
    env.extend(spool_env);
    mounts.extend(spool_mounts);
    if let Some(ca) = &spec.target.connection.ca_secret_ref {
        mounts.push(secret_file("db-ca", parent(DB_CA_PATH), ca));
    }
    Ok(keep_finished(build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind,
        image: image(request, defaults),
        args: match kind {
            RunKind::Preflight => vec!["restore".to_string(), "--preflight".to_string()],
            _ => vec!["restore".to_string()],
        },
        env,
        mounts,
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds,
        scheduled: None,
        run_now: None,
        sidecars: Vec::new(),
    })))
}

/// The post-restore Job: `spec.postRestore`'s image, command, arguments and
/// environment (values or Secret/ConfigMap references, passed as given), in the same
/// hardened pod as the runner (non-root, read-only root filesystem, writable `/tmp`).
pub fn post_restore_job(
    request: &RestoreRequest,
    name: String,
    defaults: &JobDefaults,
) -> Result<Job, BuildError> {
    let (owner, ns) = owner(request)?;
    let spec = &request.spec;
    let post = spec
        .post_restore
        .as_ref()
        .ok_or(BuildError::NotConfigured("spec.postRestore"))?;
    let mut job = build(RunnerJob {
        name,
        namespace: ns,
        owner,
        kind: RunKind::PostRestore,
        image: post.image.clone(),
        args: post.args.clone(),
        env: post.env.clone(),
        mounts: Vec::new(),
        template: &spec.job_template,
        pod_defaults: &defaults.pod,
        deadline_seconds: post.deadline_seconds,
        scheduled: None,
        run_now: None,
        sidecars: Vec::new(),
    });
    let pod = job.spec.as_mut().and_then(|s| s.template.spec.as_mut());
    if let Some(container) =
        pod.and_then(|p| p.containers.iter_mut().find(|c| c.name == RUNNER_CONTAINER))
    {
        container.command = Some(post.command.clone());
        // The user's image: its own pull policy default, not the runner's.
        container.image_pull_policy = None;
        // Not the runner: keep the command's output readable on failure.
        container.termination_message_policy = Some("FallbackToLogsOnError".to_string());
    }
    Ok(keep_finished(job))
}
