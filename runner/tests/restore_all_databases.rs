//! `restore` with `TIDEMARK_RESTORE_ALL_DATABASES`, through the real binary against real
//! PostgreSQL servers and SeaweedFS: a run of three databases is restored onto a second,
//! new server (each database into the one of the same name, created), contents equal by
//! fingerprints; a target that is not empty (and not cleaned) refuses the whole run
//! before any database is changed, naming it; a corrupt object mid-run stops the run
//! with the earlier database restored, the corrupt one rolled back and the rest not
//! started, and the report says so. Both with the single stream (parallelism 1) and with
//! the parallel path (each database built in a side database and swapped in).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;
use tidemark_testkit::postgres::TestPostgres;
use tidemark_testkit::runner::{RunnerCommand, RunnerOutput};

const DATABASES: [(&str, u32); 3] = [("alpha", 11), ("beta", 22), ("gamma.x", 33)];

fn make_database(pg: &TestPostgres, name: &str, rows: u32) {
    pg.create_database(name).unwrap();
    pg.psql(
        name,
        &format!(
            "CREATE TABLE t (id int PRIMARY KEY, v text); \
             INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, {rows}) g; \
             CREATE TABLE only_{rows} (x int); INSERT INTO only_{rows} VALUES ({rows});"
        ),
    )
    .unwrap();
}

/// `restore` of every database of the policy's run selected by `extra`, onto `target`.
fn restore_all(fx: &Fixture, target: &TestPostgres, extra: &[(&str, &str)]) -> RunnerOutput {
    let mut env = target.env("postgres");
    env.extend(fx.s3.runner_env(BUCKET));
    env.extend(
        [
            ("TIDEMARK_POLICY_NAMESPACE", "shop"),
            ("TIDEMARK_POLICY_NAME", "webshop"),
            ("TIDEMARK_S3_PREFIX", "tidemark"),
            ("TIDEMARK_RESTORE_ALL_DATABASES", "true"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env.push((
        "TIDEMARK_PG_BIN_ROOT".into(),
        target.bin_root().display().to_string(),
    ));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    RunnerCommand::new(Path::new(BIN), &["restore"], &env)
        .unwrap()
        .run()
        .unwrap()
}

/// The names of the databases on `pg` that look like a parallel restore's side or
/// replaced database, one per line.
fn side_databases(pg: &TestPostgres) -> String {
    pg.psql(
        "postgres",
        "SELECT string_agg(datname, E'\\n') FROM pg_database WHERE datname LIKE '%\\_\\_tidemark\\_%'",
    )
    .unwrap()
    .trim()
    .to_string()
}

fn exists(pg: &TestPostgres, db: &str) -> bool {
    pg.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'"),
    )
    .unwrap()
        == "1"
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["restoreAll"]["databases"]
        .as_array()
        .unwrap_or_else(|| panic!("no restoreAll.databases: {report}"))
        .iter()
        .map(|d| {
            (
                d["database"].as_str().unwrap().to_string(),
                d["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_of_a_run_restores_onto_a_new_server_or_nothing_changes() {
    every_database_or_nothing(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_of_a_run_restores_in_parallel_or_nothing_changes() {
    every_database_or_nothing(2).await;
}

/// How many databases a restore's log says were swapped in by the parallel path.
fn swapped(out: &RunnerOutput) -> usize {
    out.stderr.matches("swap committed").count()
}

async fn every_database_or_nothing(parallelism: u32) {
    let fx = Fixture::seaweed().await;
    let p = parallelism.to_string();
    let restore_all = |fx: &Fixture, new: &TestPostgres, extra: &[(&str, &str)]| {
        let mut with = vec![("TIDEMARK_RESTORE_PARALLELISM", p.as_str())];
        with.extend_from_slice(extra);
        restore_all(fx, new, &with)
    };
    let parallel = parallelism >= 2;
    for (db, rows) in DATABASES {
        make_database(&fx.pg, db, rows);
    }
    // gamma.x's table belongs to a role the new server will not have.
    fx.pg
        .psql("postgres", "CREATE ROLE gamma_owner NOLOGIN")
        .unwrap();
    fx.pg
        .psql("gamma.x", "ALTER TABLE t OWNER TO gamma_owner")
        .unwrap();
    let mut backup = fx.backup(&[("TIDEMARK_DATABASES", "alpha\nbeta\ngamma.x")]);
    backup.env_remove("PGDATABASE");
    let out = backup.run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let run_id = out.report.unwrap()["backup"]["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let source: Vec<_> = DATABASES
        .iter()
        .map(|(db, _)| fx.pg.fingerprints(db).unwrap())
        .collect();

    // A new server where `beta` already exists and holds a table of its own.
    let new = TestPostgres::start().unwrap();
    new.create_database("beta").unwrap();
    new.psql(
        "beta",
        "CREATE TABLE mine (x int); INSERT INTO mine VALUES (7);",
    )
    .unwrap();
    let before_beta = new.fingerprints("beta").unwrap();
    let out = restore_all(
        &fx,
        &new,
        &[
            ("TIDEMARK_CREATE_DATABASE", "true"),
            ("TIDEMARK_RESTORE_CLEAN", "false"),
        ],
    );
    assert_eq!(
        out.code,
        Some(2),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "TargetNotRestorable", "{report}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("database beta already holds"), "{message}");
    assert!(message.contains("\"gamma_owner\""), "{message}");
    assert!(!message.contains("alpha"), "{message}");
    assert_eq!(
        outcomes(&report),
        pairs(&[
            ("alpha", "NotStarted"),
            ("beta", "NotStarted"),
            ("gamma.x", "NotStarted")
        ])
    );
    assert_eq!(report["restoreAll"]["runId"], run_id.as_str());
    assert!(!exists(&new, "alpha") && !exists(&new, "gamma.x"));
    assert_eq!(new.fingerprints("beta").unwrap(), before_beta);

    // Without beta's obstacle, the missing role alone still stops the run before any
    // database is made (roles: require), naming it.
    new.psql("postgres", "DROP DATABASE beta").unwrap();
    let out = restore_all(&fx, &new, &[("TIDEMARK_CREATE_DATABASE", "true")]);
    assert_eq!(out.code, Some(2), "stdout: {}", out.stdout);
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "TargetNotRestorable", "{report}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("database gamma.x") && message.contains("\"gamma_owner\""),
        "{message}"
    );
    assert!(!exists(&new, "alpha") && !exists(&new, "beta") && !exists(&new, "gamma.x"));

    // Allowed to create the role: every database is created and restored; equal contents.
    let out = restore_all(
        &fx,
        &new,
        &[
            ("TIDEMARK_CREATE_DATABASE", "true"),
            ("TIDEMARK_RESTORE_ROLES", "create-missing"),
        ],
    );
    assert_eq!(
        out.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        swapped(&out),
        if parallel { 3 } else { 0 },
        "{}",
        out.stderr
    );
    let report = out.report.unwrap();
    assert!(out.termination_log.len() < 4096);
    assert_eq!(
        outcomes(&report),
        pairs(&[
            ("alpha", "Restored"),
            ("beta", "Restored"),
            ("gamma.x", "Restored")
        ])
    );
    let all = &report["restoreAll"];
    assert_eq!(
        (all["restored"].as_u64(), all["failed"].as_u64()),
        (Some(3), Some(0))
    );
    for d in all["databases"].as_array().unwrap() {
        assert_eq!(d["created"], true, "{d}");
        assert_eq!(d["tablesCompared"], 2, "{d}");
        assert_eq!(d["mismatchCount"], 0, "{d}");
        let object = d["key"].as_str().unwrap();
        assert!(object.starts_with(&format!("{run_id}.")), "{object}");
    }
    for ((db, _), fp) in DATABASES.iter().zip(&source) {
        assert_eq!(&new.fingerprints(db).unwrap(), fp, "{db}");
    }

    // The run's second database's object corrupted (same size): alpha is restored again
    // (clean), beta fails and is rolled back, gamma.x is not started.
    let beta_key = format!("tidemark/shop/webshop/{run_id}.beta.dump.zst");
    let mut bytes = fx.download(&beta_key).await;
    let middle = bytes.len() / 2;
    let end = (middle + 8).min(bytes.len());
    for b in &mut bytes[middle..end] {
        *b ^= 0xff;
    }
    put_object(&fx.s3, &beta_key, bytes).await;
    for db in ["alpha", "beta", "gamma.x"] {
        new.psql(db, "INSERT INTO t VALUES (100000, 'after');")
            .unwrap();
    }
    let changed: Vec<_> = DATABASES
        .iter()
        .map(|(db, _)| new.fingerprints(db).unwrap())
        .collect();
    let out = restore_all(&fx, &new, &[("TIDEMARK_BACKUP_KEY", &beta_key)]);
    assert_ne!(out.code, Some(0), "stdout: {}", out.stdout);
    assert_eq!(swapped(&out), usize::from(parallel), "{}", out.stderr);
    assert_eq!(side_databases(&new), "", "no side database is left behind");
    let report = out.report.unwrap();
    assert_eq!(
        outcomes(&report),
        pairs(&[
            ("alpha", "Restored"),
            ("beta", "Failed"),
            ("gamma.x", "NotStarted")
        ])
    );
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("restoring database beta failed")
            && message.contains("restored (committed): alpha")
            && message.contains("not started: gamma.x"),
        "{message}"
    );
    assert_eq!(
        new.fingerprints("alpha").unwrap(),
        source[0],
        "alpha restored"
    );
    assert_eq!(
        new.fingerprints("beta").unwrap(),
        changed[1],
        "beta rolled back"
    );
    assert_eq!(
        new.fingerprints("gamma.x").unwrap(),
        changed[2],
        "gamma.x untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lacks_a_database_is_refused_before_anything_is_made() {
    let fx = Fixture::seaweed().await;
    make_database(&fx.pg, "alpha", 5);
    make_database(&fx.pg, "beta", 6);
    let mut backup = fx.backup(&[("TIDEMARK_DATABASES", "alpha\ngone\nbeta")]);
    backup.env_remove("PGDATABASE");
    let out = backup.run().unwrap();
    assert_ne!(
        out.code,
        Some(0),
        "the run has a failed database: {}",
        out.stdout
    );

    let new = TestPostgres::start().unwrap();
    let out = restore_all(&fx, &new, &[("TIDEMARK_CREATE_DATABASE", "true")]);
    assert_eq!(
        out.code,
        Some(3),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "RunIncomplete", "{report}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gone") && message.contains("nothing was restored"),
        "{message}"
    );
    assert!(!exists(&new, "alpha") && !exists(&new, "beta"));

    // Naming one database beside the switch is a configuration error.
    let out = restore_all(&fx, &new, &[("TIDEMARK_BACKUP_DATABASE", "alpha")]);
    assert_eq!(out.code, Some(2), "stdout: {}", out.stdout);
    assert!(
        out.stdout.contains("TIDEMARK_BACKUP_DATABASE"),
        "{}",
        out.stdout
    );
}
