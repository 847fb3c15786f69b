//! Golden and behaviour tests of the prune, verify, restore-test and purge Jobs built for
//! the webshop example (the backup Job is in `job_building.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::{EphemeralServer, RestoreTestTarget};
use tidemark_crd::common::{DatabaseConnection, SecretKeyRef};
use tidemark_operator::backup_policy::jobs::{
    Trigger, prune_job, purge_job, restore_test_job, verify_job,
};
use tidemark_operator::naming::{
    RunKind, follow_up_job_name, request_job_name, scheduled_job_name,
};
use tidemark_operator::runtime::job::BuildError;

use tidemark_operator::backup_policy::validate::validate;

mod support;
use support::fixtures::{SENSITIVE_ENV, defaults, golden, webshop};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const BACKUP_JOB: &str = "webshop-backup-202611231100";

fn prune() -> Job {
    let name = follow_up_job_name(BACKUP_JOB, RunKind::Prune);
    prune_job(
        &webshop(),
        &validate(&webshop().spec).unwrap(),
        name,
        BACKUP_JOB,
        &defaults(),
    )
    .unwrap()
}

fn verify() -> Job {
    let when = at("2026-11-24T04:00:00Z");
    let name = scheduled_job_name("webshop", RunKind::Verify, when);
    verify_job(
        &webshop(),
        &validate(&webshop().spec).unwrap(),
        name,
        &Trigger::Scheduled(when),
        &defaults(),
    )
    .unwrap()
}

fn restore_test(policy: &BackupPolicy) -> Result<Job, BuildError> {
    let when = at("2026-12-01T05:00:00Z");
    let name = scheduled_job_name("webshop", RunKind::RestoreTest, when);
    restore_test_job(policy, name, &Trigger::Scheduled(when), &defaults())
}

fn purge() -> Job {
    let name = request_job_name("webshop", RunKind::Purge);
    purge_job(&webshop(), name, &defaults()).unwrap()
}

fn pod(job: &Job) -> PodSpec {
    job.spec.clone().unwrap().template.spec.unwrap()
}

fn runner(job: &Job) -> Container {
    pod(job).containers[0].clone()
}

/// Plain (non-secret) env of the runner container.
fn plain_env(job: &Job) -> BTreeMap<String, String> {
    runner(job)
        .env
        .unwrap()
        .into_iter()
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect()
}

fn all_jobs() -> Vec<Job> {
    vec![
        prune(),
        verify(),
        restore_test(&webshop()).unwrap(),
        purge(),
    ]
}

#[test]
fn golden_yaml_of_prune_verify_restore_test_and_purge() {
    golden("webshop-prune-job.yaml", &prune());
    golden("webshop-verify-job.yaml", &verify());
    golden(
        "webshop-restore-test-job.yaml",
        &restore_test(&webshop()).unwrap(),
    );
    golden("webshop-purge-job.yaml", &purge());
}

#[test]
fn prune_carries_the_retention_counts_time_zone_and_grace_period() {
    let mut policy = webshop();
    policy.spec.time_zone = "Europe/Berlin".into();
    policy.spec.retention.monthly = 12;
    policy.spec.retention.orphan_grace_period = "6h".into();
    let job = prune_job(
        &policy,
        &validate(&policy.spec).unwrap(),
        "p".into(),
        BACKUP_JOB,
        &defaults(),
    )
    .unwrap();
    let env = plain_env(&job);
    assert_eq!(env["TIDEMARK_KEEP_HOURLY"], "24");
    assert_eq!(env["TIDEMARK_KEEP_DAILY"], "7");
    assert_eq!(env["TIDEMARK_KEEP_WEEKLY"], "4");
    assert_eq!(env["TIDEMARK_KEEP_MONTHLY"], "12");
    assert_eq!(env["TIDEMARK_KEEP_YEARLY"], "0");
    assert_eq!(env["TIDEMARK_TIME_ZONE"], "Europe/Berlin");
    assert_eq!(env["TIDEMARK_ORPHAN_GRACE_PERIOD"], "6h");
    assert_eq!(env["TIDEMARK_POLICY_NAME"], "webshop");
    assert!(!env.contains_key("TIDEMARK_PRUNE_ALL"));
    assert_eq!(runner(&job).args.unwrap(), vec!["prune"]);
    assert_eq!(
        job.metadata.annotations.unwrap()["tidemark.dev/after-job"],
        BACKUP_JOB
    );
    assert_eq!(
        job.metadata.labels.unwrap()["tidemark.dev/run-kind"],
        "prune"
    );
}

#[test]
fn verify_carries_min_size_and_max_age_and_can_be_disabled() {
    let job = verify();
    let env = plain_env(&job);
    // `1Mi` in the policy, in bytes for the runner (whose `M` would be binary).
    assert_eq!(env["TIDEMARK_VERIFY_MIN_SIZE"], "1048576");
    assert_eq!(env["TIDEMARK_VERIFY_MAX_AGE"], "2h");
    assert_eq!(runner(&job).args.unwrap(), vec!["verify"]);
    // Verification never decrypts and never connects to the database.
    assert!(!env.contains_key("PGHOST"));
    assert!(
        !runner(&job)
            .env
            .unwrap()
            .iter()
            .any(|e| e.name.starts_with("PG") || e.name == "TIDEMARK_AGE_IDENTITY")
    );

    let mut policy = webshop();
    policy.spec.verification.enabled = false;
    let r = verify_job(
        &policy,
        &validate(&policy.spec).unwrap(),
        "v".into(),
        &Trigger::RunNow("1".into()),
        &defaults(),
    );
    assert_eq!(
        r.unwrap_err(),
        BuildError::NotConfigured("spec.verification")
    );
}

#[test]
fn the_ephemeral_restore_test_server_is_a_native_sidecar_that_is_ready_first() {
    let job = restore_test(&webshop()).unwrap();
    let spec = job.spec.clone().unwrap();
    assert_eq!(
        spec.active_deadline_seconds,
        Some(7200),
        "restoreTest.deadlineSeconds"
    );
    let pod = pod(&job);
    assert_eq!(
        pod.containers.len(),
        1,
        "only the runner is a main container"
    );
    let init = pod.init_containers.clone().unwrap();
    assert_eq!(init.len(), 1);
    let pg = &init[0];
    assert_eq!(pg.restart_policy.as_deref(), Some("Always"));
    assert_eq!(
        pg.image.as_deref(),
        Some("postgres:15"),
        "image from the spec"
    );
    let startup = pg
        .startup_probe
        .clone()
        .unwrap()
        .exec
        .unwrap()
        .command
        .unwrap();
    assert_eq!(startup[0], "pg_isready");
    assert!(pg.readiness_probe.is_some());
    assert_eq!(pg.ports.clone().unwrap()[0].container_port, 5432);
    // Listens on the pod's loopback only, trust auth, no password anywhere.
    let args = pg.args.clone().unwrap();
    assert!(args.contains(&"listen_addresses=localhost".to_string()));
    let pg_env: BTreeMap<_, _> = pg
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap()))
        .collect();
    assert_eq!(pg_env["POSTGRES_HOST_AUTH_METHOD"], "trust");
    assert!(!pg_env.contains_key("POSTGRES_PASSWORD"));
    // The runner talks to it on localhost:5432.
    let env = plain_env(&job);
    assert_eq!(env["PGHOST"], "localhost");
    assert_eq!(env["PGPORT"], "5432");
    assert_eq!(env["PGSSLMODE"], "disable");
    assert_eq!(env["TIDEMARK_RESTORE_TEST_TARGET"], "ephemeral");
    assert!(
        !runner(&job)
            .env
            .unwrap()
            .iter()
            .any(|e| e.name == "PGPASSWORD")
    );
    assert_eq!(runner(&job).args.unwrap(), vec!["restore-test"]);
}

#[test]
fn the_sidecar_is_hardened_and_writes_only_to_its_own_empty_dirs() {
    let job = restore_test(&webshop()).unwrap();
    let pod = pod(&job);
    let pg = &pod.init_containers.clone().unwrap()[0];
    let sc = pg.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop.unwrap(), vec!["ALL"]);
    let psc = pod.security_context.clone().unwrap();
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");

    let empty_dirs: Vec<String> = pod
        .volumes
        .clone()
        .unwrap()
        .into_iter()
        .filter(|v| v.empty_dir.is_some())
        .map(|v| v.name)
        .collect();
    assert_eq!(
        empty_dirs,
        vec!["tmp", "spool", "pg-data", "pg-run", "pg-tmp"]
    );
    let pg_mounts: Vec<(String, String)> = pg
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.mount_path))
        .collect();
    assert_eq!(
        pg_mounts,
        vec![
            ("pg-data".into(), "/var/lib/postgresql/data".into()),
            ("pg-run".into(), "/var/run/postgresql".into()),
            ("pg-tmp".into(), "/tmp".into()),
        ]
    );
    let pg_env = pg.env.clone().unwrap();
    let pgdata = pg_env.iter().find(|e| e.name == "PGDATA").unwrap();
    assert_eq!(
        pgdata.value.as_deref(),
        Some("/var/lib/postgresql/data/pgdata"),
        "below the mount, so initdb can create it with mode 0700"
    );
    // The runner mounts only its own /tmp and spool, not the server's data.
    let runner_mounts: Vec<String> = runner(&job)
        .volume_mounts
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(runner_mounts, vec!["tmp", "spool"]);
}

#[test]
fn an_existing_restore_test_server_gets_no_sidecar_and_secret_refs() {
    let mut policy = webshop();
    let test = policy.spec.restore_test.as_mut().unwrap();
    test.target = RestoreTestTarget {
        ephemeral: None,
        existing: Some(DatabaseConnection {
            host: Some("scratch-db.webshop.svc".into()),
            port: 5433,
            user_secret_ref: Some(SecretKeyRef {
                name: "scratch-db".into(),
                key: "username".into(),
            }),
            password_secret_ref: Some(SecretKeyRef {
                name: "scratch-db".into(),
                key: "password".into(),
            }),
            ca_secret_ref: Some(SecretKeyRef {
                name: "scratch-db".into(),
                key: "ca.crt".into(),
            }),
            ..serde_json::from_str::<DatabaseConnection>("{}").unwrap()
        }),
    };
    let job = restore_test(&policy).unwrap();
    let pod = pod(&job);
    assert!(pod.init_containers.is_none(), "no sidecar");
    let env = plain_env(&job);
    assert_eq!(env["TIDEMARK_RESTORE_TEST_TARGET"], "existing");
    assert_eq!(env["PGHOST"], "scratch-db.webshop.svc");
    assert_eq!(env["PGPORT"], "5433");
    assert_eq!(env["PGSSLROOTCERT"], "/etc/tidemark/db-ca/ca.crt");
    let password = runner(&job)
        .env
        .unwrap()
        .into_iter()
        .find(|e| e.name == "PGPASSWORD")
        .unwrap();
    assert!(password.value.is_none());
    assert_eq!(
        password.value_from.unwrap().secret_key_ref.unwrap().name,
        "scratch-db"
    );
    let volumes: Vec<String> = pod.volumes.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(volumes, vec!["tmp", "spool", "db-ca"]);
}

#[test]
fn the_default_ephemeral_image_is_used_when_the_target_names_none() {
    let mut policy = webshop();
    policy.spec.restore_test.as_mut().unwrap().target = RestoreTestTarget {
        ephemeral: Some(EphemeralServer::default()),
        existing: None,
    };
    let job = restore_test(&policy).unwrap();
    let image = pod(&job).init_containers.unwrap()[0].image.clone();
    assert_eq!(image, Some(EphemeralServer::default().image));
}

#[test]
fn no_restore_test_job_without_an_enabled_restore_test() {
    let mut policy = webshop();
    policy.spec.restore_test.as_mut().unwrap().enabled = false;
    assert_eq!(
        restore_test(&policy).unwrap_err(),
        BuildError::NotConfigured("spec.restoreTest")
    );
    policy.spec.restore_test = None;
    assert!(restore_test(&policy).is_err());
}

#[test]
fn purge_prunes_everything_under_the_policy_prefix() {
    let job = purge();
    assert_eq!(job.metadata.name.as_deref(), Some("webshop-purge"));
    let env = plain_env(&job);
    assert_eq!(env["TIDEMARK_PRUNE_ALL"], "true");
    assert_eq!(env["TIDEMARK_S3_PREFIX"], "postgres");
    assert_eq!(env["TIDEMARK_POLICY_NAMESPACE"], "webshop");
    assert_eq!(env["TIDEMARK_POLICY_NAME"], "webshop");
    assert_eq!(runner(&job).args.unwrap(), vec!["prune"]);
    assert_eq!(
        job.metadata.labels.unwrap()["tidemark.dev/run-kind"],
        "purge"
    );
}

#[test]
fn every_job_is_hardened_owned_and_keeps_credentials_in_secret_refs() {
    for job in all_jobs() {
        let name = job.metadata.name.clone().unwrap();
        let owner = &job.metadata.owner_references.clone().unwrap()[0];
        assert_eq!(owner.kind, "BackupPolicy", "{name}");
        assert_eq!(owner.controller, Some(true), "{name}");
        let pod = pod(&job);
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"), "{name}");
        assert_eq!(pod.automount_service_account_token, Some(false), "{name}");
        let psc = pod.security_context.clone().unwrap();
        assert_eq!(psc.run_as_non_root, Some(true), "{name}");
        let containers = pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten());
        for c in containers {
            let sc = c.security_context.clone().unwrap();
            assert_eq!(sc.read_only_root_filesystem, Some(true), "{name}");
            assert_eq!(sc.capabilities.unwrap().drop.unwrap(), vec!["ALL"]);
            for var in c.env.iter().flatten() {
                if SENSITIVE_ENV.contains(&var.name.as_str()) && var.value.is_some() {
                    // Only the ephemeral server's own superuser name is literal.
                    assert_eq!(
                        (var.name.as_str(), var.value.as_deref()),
                        ("PGUSER", Some("postgres")),
                        "{name}: {} has a literal value",
                        var.name
                    );
                }
            }
            for arg in c.args.iter().flatten() {
                assert!(!arg.to_lowercase().contains("password"), "{name}: {arg}");
            }
        }
    }
}
