//! The operator's half of the runner-contract cross-check: every Job kind is built from
//! specs that enable every option, and the environment names of the runner container
//! must be exactly what `crd::contract::env::operator_sets` says for its subcommand.
//! The runner's half (`runner/src/cli.rs`, `cli_reads_exactly_the_contract`) checks its
//! command line against the same lists, so a name one side uses and the other does not
//! fails one of the two tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};
use tidemark_crd::backup_policy::RestoreTestTarget;
use tidemark_crd::contract::env::{self as var, COMMANDS, operator_sets};
use tidemark_crd::contract::result::RunnerCommand;
use tidemark_crd::{BackupPolicy, RestoreRequest};
use tidemark_operator::backup_policy::jobs::{
    Trigger, backup_job, prune_job, purge_job, restore_test_job, verify_job,
};
use tidemark_operator::backup_policy::validate::validate;
use tidemark_operator::restore_request::jobs::{list_job, preflight_job, restore_job};
use tidemark_operator::restore_request::source::BackupSource;
use tidemark_operator::runtime::job::JobDefaults;
use tidemark_operator::runtime::job::builder::RUNNER_CONTAINER;

fn secret(key: &str) -> Value {
    json!({"name": "s", "key": key})
}

/// A policy with every option set; `alternative` picks the other side of each
/// either-or choice (URI or host connection, recipients listed or from a Secret).
fn policy(alternative: bool) -> BackupPolicy {
    let connection = if alternative {
        json!({"uriSecretRef": secret("uri"), "sslMode": "verify-full", "caSecretRef": secret("ca")})
    } else {
        json!({"host": "db", "port": 5433, "database": "web", "userSecretRef": secret("u"),
               "passwordSecretRef": secret("p"), "sslMode": "verify-full",
               "caSecretRef": secret("ca")})
    };
    let encryption = if alternative {
        json!({"recipientsSecretRef": secret("recipients")})
    } else {
        json!({"recipients": ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]})
    };
    // The restore-test server takes the other connection style than the backup's, so
    // that both styles are built for restore-test too (the ephemeral server: see
    // `every_runner_job`).
    let existing = if alternative {
        json!({"host": "scratch", "database": "postgres", "user": "tester",
               "passwordSecretRef": secret("p"), "sslMode": "require",
               "caSecretRef": secret("ca")})
    } else {
        json!({"uriSecretRef": secret("scratch-uri")})
    };
    let target = json!({"existing": existing});
    // Several databases: all but some with the URI (whose database is not a field);
    // the host connection names its one database (a list: see `every_runner_job`).
    let databases = if alternative {
        json!({"all": true, "exclude": ["postgres"]})
    } else {
        Value::Null
    };
    serde_json::from_value(json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u"},
        "spec": {
            "schedule": "0 * * * *",
            "database": connection,
            "databases": databases,
            "s3": {
                "bucket": "b", "prefix": "p", "region": "eu-west-1",
                "endpoint": "https://s3.example", "forcePathStyle": true,
                "credentials": {"accessKeyIdSecretRef": secret("a"),
                                "secretAccessKeySecretRef": secret("s"),
                                "sessionTokenSecretRef": secret("t")},
                "serverSideEncryption": {"algorithm": "aws:kms", "kmsKeyId": "k"},
                "storageClass": "STANDARD_IA",
                "caBundleSecretRef": secret("s3ca")
            },
            "dump": {
                "format": "plain",
                "compression": {"algorithm": "zstd", "level": 5, "threads": 2},
                "includeSchemas": ["public"], "excludeSchemas": ["tmp"],
                "includeTables": ["public.a"], "excludeTables": ["public.b"],
                "rowCounts": "estimate"
            },
            "encryption": encryption,
            "retention": {"hourly": 24, "daily": 7, "weekly": 4, "monthly": 12, "yearly": 2},
            "verification": {"enabled": true, "minSize": "1Mi", "maxShrinkPercent": 30},
            "restoreTest": {"enabled": true, "target": target, "parallelism": 2,
                            "decryptionIdentitySecretRef": secret("identity")}
        }
    }))
    .unwrap()
}

/// A restore request with every option set; `alternative` as for [`policy`].
fn request(alternative: bool) -> RestoreRequest {
    let backup = if alternative {
        json!({"key": "shop/web/20260101T000000Z.sql.zst.age", "database": "web"})
    } else {
        json!({"before": "2026-01-01T00:00:00Z"})
    };
    let connection = if alternative {
        json!({"uriSecretRef": secret("uri"), "sslMode": "require", "caSecretRef": secret("ca")})
    } else {
        json!({"host": "db", "database": "web", "user": "app", "passwordSecretRef": secret("p"),
               "sslMode": "require", "caSecretRef": secret("ca")})
    };
    serde_json::from_value(json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "RestoreRequest",
        "metadata": {"name": "r", "namespace": "shop", "uid": "v"},
        "spec": {
            "source": {"policyRef": {"name": "web"}},
            "decryptionIdentitySecretRef": secret("identity"),
            "backup": backup,
            "target": {"connection": connection, "createDatabase": true, "roles": "CreateMissing"},
            "mode": {"content": "DataOnly", "truncate": true, "tables": ["public.a"],
                     "noOwner": true, "noPrivileges": true}
        }
    }))
    .unwrap()
}

fn defaults() -> JobDefaults {
    JobDefaults {
        runner_image: "runner:test".into(),
        pod: Default::default(),
    }
}

/// The subcommand a runner Job runs (its first argument) and its environment's names.
fn runner_env(job: &Job) -> (RunnerCommand, BTreeSet<String>) {
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    let runner = pod
        .containers
        .iter()
        .find(|c| c.name == RUNNER_CONTAINER)
        .expect("a runner container");
    let args = runner.args.clone().unwrap_or_default();
    let command = match args.first().map(String::as_str) {
        Some("backup") => RunnerCommand::Backup,
        Some("verify") => RunnerCommand::Verify,
        Some("prune") => RunnerCommand::Prune,
        Some("list") => RunnerCommand::List,
        Some("restore") => RunnerCommand::Restore,
        Some("restore-test") => RunnerCommand::RestoreTest,
        other => panic!("a runner Job with an unknown subcommand {other:?}"),
    };
    let names = runner
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect();
    (command, names)
}

/// Every runner Job the operator builds, for both alternatives of every choice.
fn every_runner_job() -> Vec<Job> {
    let d = defaults();
    let when = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut jobs = Vec::new();
    for alternative in [false, true] {
        let p = policy(alternative);
        let tick = Trigger::Scheduled(when);
        let now = Trigger::RunNow("x".into());
        jobs.push(backup_job(&p, &validate(&p.spec).unwrap(), "b".into(), &tick, &d).unwrap());
        jobs.push(prune_job(&p, &validate(&p.spec).unwrap(), "p".into(), "b", &d).unwrap());
        jobs.push(purge_job(&p, "g".into(), &d).unwrap());
        jobs.push(verify_job(&p, &validate(&p.spec).unwrap(), "v".into(), &now, &d).unwrap());
        jobs.push(restore_test_job(&p, "t".into(), &tick, &d).unwrap());
        let mut ephemeral = p.clone();
        if let Some(test) = ephemeral.spec.restore_test.as_mut() {
            test.target = RestoreTestTarget::default();
        }
        jobs.push(restore_test_job(&ephemeral, "e".into(), &tick, &d).unwrap());
        let rr = request(alternative);
        let source = BackupSource::of(&rr.spec, "shop", Some(&p)).unwrap();
        let key = "shop/web/20260101T000000Z.sql.zst.age";
        jobs.push(list_job(&rr, &source, "l".into(), &d).unwrap());
        jobs.push(preflight_job(&rr, &source, key, "f".into(), &d).unwrap());
        jobs.push(restore_job(&rr, &source, key, "r".into(), &d).unwrap());
        // A full restore in parallel: the spool directory too.
        let mut full = rr.clone();
        full.spec.mode = Default::default();
        full.spec.parallelism = Some(3);
        jobs.push(restore_job(&full, &source, key, "r".into(), &d).unwrap());
    }
    // A request for every database of a run.
    let p = policy(true);
    let mut all = request(true);
    all.spec.backup.all_databases = Some(true);
    all.spec.backup.database = None;
    all.spec.target.connection.database = None;
    let source = BackupSource::of(&all.spec, "shop", Some(&p)).unwrap();
    let key = "shop/web/20260101T000000Z.web.sql.zst.age";
    jobs.push(list_job(&all, &source, "l".into(), &d).unwrap());
    jobs.push(restore_job(&all, &source, key, "r".into(), &d).unwrap());
    // A host connection with a list of databases instead of its one database.
    let mut listed = policy(false);
    listed.spec.database.database = None;
    listed.spec.databases = Some(tidemark_crd::backup_policy::DatabaseSelection {
        names: vec!["web".into(), "audit".into()],
        ..Default::default()
    });
    let tick = Trigger::Scheduled(when);
    jobs.push(
        backup_job(
            &listed,
            &validate(&listed.spec).unwrap(),
            "m".into(),
            &tick,
            &d,
        )
        .unwrap(),
    );
    jobs
}

#[test]
fn the_operator_sets_exactly_the_contract_of_each_subcommand() {
    let mut set: BTreeMap<RunnerCommand, BTreeSet<String>> = BTreeMap::new();
    for job in every_runner_job() {
        let (command, names) = runner_env(&job);
        let allowed = operator_sets(command);
        for name in &names {
            assert!(
                allowed.contains(&name.as_str()),
                "a {command:?} Job sets {name}, which `tidemark-runner {command:?}` does not \
                 read (add it to crd::contract::env and to the runner's command line)"
            );
        }
        set.entry(command).or_default().extend(names);
    }
    for command in COMMANDS {
        let built = set.get(&command).cloned().unwrap_or_default();
        for name in operator_sets(command) {
            assert!(
                built.contains(name),
                "crd::contract::env::operator_sets({command:?}) lists {name}, but no {command:?} \
                 Job the operator builds sets it (move it to runner_only, or set it)"
            );
        }
    }
}

#[test]
fn the_spelling_of_each_enum_is_the_contract_one() {
    let job = backup_job(
        &policy(false),
        &validate(&policy(false).spec).unwrap(),
        "b".into(),
        &Trigger::RunNow("x".into()),
        &defaults(),
    )
    .unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let env: BTreeMap<String, Option<String>> = pod.containers[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    let value = |name: &str| env[name].clone().unwrap();
    assert_eq!(value(var::DUMP_FORMAT), "plain");
    assert_eq!(value(var::COMPRESSION), "zstd");
    assert_eq!(value(var::ROW_COUNT_MODE), "estimate");
    assert_eq!(value(var::S3_SSE), "aws:kms");
    assert_eq!(value(var::S3_STORAGE_CLASS), "STANDARD_IA");
}
