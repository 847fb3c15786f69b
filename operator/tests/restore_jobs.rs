//! Golden and property tests of the Jobs of a RestoreRequest: list, restore and
//! post-restore.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use tidemark_crd::RestoreRequest;
use tidemark_crd::restore_request::{ExplicitSource, RestoreSource};
use tidemark_operator::naming::{RunKind, request_job_name};
use tidemark_operator::restore_request::jobs::{list_job, post_restore_job, restore_job};
use tidemark_operator::restore_request::source::BackupSource;

mod support;
use support::fixtures::{assert_secret_refs, defaults, example, golden, webshop};

const KEY: &str = "postgres/webshop/webshop/20261123T090000Z.dump.zst.age";

fn request(file: &str) -> RestoreRequest {
    let mut rr: RestoreRequest = example(file);
    rr.metadata.uid = Some("7d2b4c1f-0000-4000-8000-000000000002".into());
    rr
}

fn undo_migration_restore() -> Job {
    let rr = request("restore-after-failed-migration.yaml");
    let policy = webshop();
    let source = BackupSource::of(&rr.spec, "webshop", Some(&policy)).unwrap();
    let name = request_job_name("webshop-undo-migration", RunKind::Restore);
    restore_job(&rr, &source, KEY, name, &defaults()).unwrap()
}

fn undo_migration_post_restore() -> Job {
    let rr = request("restore-after-failed-migration.yaml");
    let name = request_job_name("webshop-undo-migration", RunKind::PostRestore);
    post_restore_job(&rr, name, &defaults()).unwrap()
}

fn explicit_before_list() -> Job {
    let mut rr = request("restore-before-time.yaml");
    let policy = webshop();
    rr.spec.source = RestoreSource {
        policy_ref: None,
        explicit: Some(ExplicitSource {
            s3: policy.spec.s3.clone(),
            policy_namespace: "webshop".into(),
            policy_name: "webshop".into(),
        }),
    };
    let source = BackupSource::of(&rr.spec, "webshop", None).unwrap();
    let name = request_job_name("webshop-before-deletion", RunKind::List);
    list_job(&rr, &source, name, &defaults()).unwrap()
}

fn env_of(job: &Job) -> Vec<EnvVar> {
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    pod.containers[0].env.clone().unwrap_or_default()
}

fn plain(job: &Job, name: &str) -> Option<String> {
    env_of(job)
        .into_iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value)
}

#[test]
fn the_restore_job_matches_the_golden_yaml() {
    golden("webshop-restore-job.yaml", &undo_migration_restore());
}

#[test]
fn the_post_restore_job_matches_the_golden_yaml() {
    golden(
        "webshop-post-restore-job.yaml",
        &undo_migration_post_restore(),
    );
}

#[test]
fn the_list_job_of_an_explicit_source_matches_the_golden_yaml() {
    golden("webshop-list-job.yaml", &explicit_before_list());
}

#[test]
fn the_restore_job_restores_the_resolved_key_with_the_requested_mode() {
    let job = undo_migration_restore();
    let c = &job.spec.clone().unwrap().template.spec.unwrap().containers[0];
    assert_eq!(c.args.as_deref(), Some(&["restore".to_string()][..]));
    assert_eq!(plain(&job, "TIDEMARK_BACKUP_KEY").as_deref(), Some(KEY));
    assert_eq!(
        plain(&job, "TIDEMARK_RESTORE_CONTENT").as_deref(),
        Some("full")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_RESTORE_CLEAN").as_deref(),
        Some("true")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_CREATE_DATABASE").as_deref(),
        Some("false")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_POLICY_NAME").as_deref(),
        Some("webshop")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_S3_BUCKET").as_deref(),
        Some("webshop-backups")
    );
    assert_eq!(plain(&job, "PGDATABASE").as_deref(), Some("webshop"));
    assert_eq!(plain(&job, "TIDEMARK_RESTORE_TABLES"), None);
}

#[test]
fn a_data_only_restore_of_two_tables_says_so() {
    let rr = request("restore-tables-data-only.yaml");
    let policy = webshop();
    let source = BackupSource::of(&rr.spec, "webshop", Some(&policy)).unwrap();
    let job = restore_job(&rr, &source, KEY, "x-restore".into(), &defaults()).unwrap();
    assert_eq!(
        plain(&job, "TIDEMARK_RESTORE_CONTENT").as_deref(),
        Some("data-only")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_RESTORE_TABLES").as_deref(),
        Some("public.orders,public.users")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_RESTORE_TRUNCATE").as_deref(),
        Some("true")
    );
    assert_eq!(
        plain(&job, "TIDEMARK_RESTORE_CLEAN").as_deref(),
        Some("false")
    );
}

#[test]
fn a_lost_server_restore_creates_the_database() {
    let rr = request("restore-before-time.yaml");
    let policy = webshop();
    let source = BackupSource::of(&rr.spec, "webshop", Some(&policy)).unwrap();
    let job = restore_job(&rr, &source, KEY, "x-restore".into(), &defaults()).unwrap();
    assert_eq!(
        plain(&job, "TIDEMARK_CREATE_DATABASE").as_deref(),
        Some("true")
    );
    assert_eq!(
        plain(&job, "PGDATABASE").as_deref(),
        Some("webshop_before_deletion")
    );
}

#[test]
fn credentials_and_the_identity_are_secret_references_never_values() {
    for job in [undo_migration_restore(), explicit_before_list()] {
        assert_secret_refs(&env_of(&job));
    }
    let identity = env_of(&undo_migration_restore())
        .into_iter()
        .find(|e| e.name == "TIDEMARK_AGE_IDENTITY")
        .expect("the identity is passed to the restore");
    let sel = identity.value_from.unwrap().secret_key_ref.unwrap();
    assert_eq!(
        (sel.name.as_str(), sel.key.as_str()),
        ("webshop-backup-identity", "identity")
    );
    // The list Job reads manifests only: it never gets the identity or the database.
    let list = env_of(&explicit_before_list());
    assert!(
        !list
            .iter()
            .any(|e| e.name == "TIDEMARK_AGE_IDENTITY" || e.name == "PGPASSWORD")
    );
}

#[test]
fn the_list_job_selects_like_the_request() {
    let job = explicit_before_list();
    assert_eq!(
        plain(&job, "TIDEMARK_BACKUP_BEFORE").as_deref(),
        Some("2026-11-23T09:57:00Z")
    );
    assert_eq!(plain(&job, "TIDEMARK_BACKUP_KEY"), None);
    let spec = job.spec.unwrap();
    assert_eq!(spec.active_deadline_seconds, Some(600));
    let c = &spec.template.spec.unwrap().containers[0];
    assert_eq!(c.args.as_deref(), Some(&["list".to_string()][..]));
}

#[test]
fn the_post_restore_job_runs_the_users_command_in_a_hardened_pod() {
    let job = undo_migration_post_restore();
    let spec = job.spec.unwrap();
    assert_eq!(spec.active_deadline_seconds, Some(900));
    let pod = spec.template.spec.unwrap();
    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("registry.example/webshop/backend:1.41.0")
    );
    assert_eq!(
        c.command.clone().unwrap(),
        vec!["python", "manage.py", "migrate", "--noinput"]
    );
    let env = c.env.clone().unwrap();
    assert_eq!(env.len(), 1);
    let sel = env[0].value_from.clone().unwrap().secret_key_ref.unwrap();
    assert_eq!(
        (sel.name.as_str(), sel.key.as_str()),
        ("webshop-db", "database-url")
    );
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.capabilities.unwrap().drop.unwrap(), vec!["ALL"]);
}

#[test]
fn jobs_are_owned_by_the_request_and_labelled() {
    for (job, kind) in [
        (undo_migration_restore(), "restore"),
        (undo_migration_post_restore(), "post-restore"),
    ] {
        let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("RestoreRequest", "webshop-undo-migration")
        );
        assert_eq!(owner.controller, Some(true));
        let labels = job.metadata.labels.clone().unwrap();
        assert_eq!(
            labels["tidemark.dev/restore-request"],
            "webshop-undo-migration"
        );
        assert_eq!(labels["tidemark.dev/run-kind"], kind);
        assert_eq!(
            job.metadata.name.as_deref(),
            Some(
                format!(
                    "webshop-undo-migration-{}",
                    if kind == "restore" { "restore" } else { "post" }
                )
                .as_str()
            )
        );
    }
}

#[test]
fn a_request_without_uid_cannot_own_a_job() {
    let mut rr = request("restore-latest.yaml");
    rr.metadata.uid = None;
    assert!(post_restore_job(&rr, "x".into(), &defaults()).is_err());
    let policy = webshop();
    let source = BackupSource::of(&rr.spec, "webshop", Some(&policy)).unwrap();
    assert!(restore_job(&rr, &source, KEY, "x".into(), &defaults()).is_err());
}

#[test]
fn finished_request_jobs_are_kept_long_enough_to_be_read() {
    let mut rr = request("restore-after-failed-migration.yaml");
    rr.spec.job_template.ttl_seconds_after_finished = 0;
    let job = post_restore_job(&rr, "x-post".into(), &defaults()).unwrap();
    assert_eq!(job.spec.unwrap().ttl_seconds_after_finished, Some(3600));
    // An omitted jobTemplate keeps the API defaults (one retry, one day).
    let job = undo_migration_restore();
    let spec = job.spec.unwrap();
    assert_eq!(spec.backoff_limit, Some(1));
    assert_eq!(spec.ttl_seconds_after_finished, Some(86_400));
}

#[test]
fn an_all_databases_restore_passes_the_switch_to_list_and_restore_and_no_database() {
    let mut rr = request("restore-lost-server.yaml");
    rr.spec.backup.all_databases = Some(true);
    rr.spec.target.connection.database = None;
    let policy = webshop();
    let source = BackupSource::of(&rr.spec, "webshop", Some(&policy)).unwrap();
    let restore = restore_job(&rr, &source, KEY, "x-restore".into(), &defaults()).unwrap();
    assert_eq!(
        plain(&restore, "TIDEMARK_RESTORE_ALL_DATABASES").as_deref(),
        Some("true")
    );
    assert_eq!(plain(&restore, "TIDEMARK_BACKUP_KEY").as_deref(), Some(KEY));
    assert_eq!(plain(&restore, "PGDATABASE"), None);
    assert_eq!(plain(&restore, "TIDEMARK_BACKUP_DATABASE"), None);
    let list = list_job(&rr, &source, "x-list".into(), &defaults()).unwrap();
    assert_eq!(
        plain(&list, "TIDEMARK_RESTORE_ALL_DATABASES").as_deref(),
        Some("true")
    );
    // A request for one database passes no switch.
    let one = request("restore-lost-server.yaml");
    let job = restore_job(&one, &source, KEY, "x-restore".into(), &defaults()).unwrap();
    assert_eq!(plain(&job, "TIDEMARK_RESTORE_ALL_DATABASES"), None);
}
