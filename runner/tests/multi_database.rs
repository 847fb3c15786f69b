//! Several databases in one policy, through the real binary against real PostgreSQL
//! and SeaweedFS: one run backs up three databases (each its own snapshot, data object
//! and manifest under the run's one timestamp); the inventory shows one run of three;
//! each database restores alone; a database that fails leaves the others' backups good;
//! prune keeps or removes a run as a whole; single-database keys and manifests are
//! unchanged beside them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use tidemark_crd::contract::keys::{MANIFEST_SUFFIX, manifest_key};
use tidemark_crd::contract::manifest::{CompressionTag, Manifest};

/// Creates database `name` with a table `t` of `rows` rows (and a second table, so the
/// databases differ in shape too).
fn make_database(fx: &Fixture, name: &str, rows: u32) {
    fx.pg.create_database(name).unwrap();
    fx.pg
        .psql(
            name,
            &format!(
                "CREATE TABLE t (id int PRIMARY KEY, v text); \
                 INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, {rows}) g; \
                 CREATE TABLE only_{rows} (x int); INSERT INTO only_{rows} VALUES (1);"
            ),
        )
        .unwrap();
}

fn count_rows(fx: &Fixture, db: &str) -> i64 {
    fx.pg
        .psql(db, "SELECT count(*) FROM t")
        .unwrap()
        .parse()
        .unwrap()
}

/// A backup run of the policy `shop/webshop` over `databases` (one per line), or
/// every database with `all`.
fn run_backup(fx: &Fixture, extra: &[(&str, &str)]) -> tidemark_testkit::runner::RunnerOutput {
    let mut cmd = fx.backup(extra);
    cmd.env_remove("PGDATABASE");
    cmd.run().unwrap()
}

fn data_keys(keys: &[String]) -> Vec<String> {
    keys.iter()
        .filter(|k| {
            !k.ends_with(MANIFEST_SUFFIX)
                && tidemark_crd::contract::keys::backup_key_of_globals(k).is_none()
        })
        .cloned()
        .collect()
}

fn restore_one(fx: &Fixture, database: &str, into: &str) -> tidemark_testkit::runner::RunnerOutput {
    fx.restore_run(
        "restore",
        into,
        &[
            ("TIDEMARK_CREATE_DATABASE", "true"),
            ("TIDEMARK_BACKUP_DATABASE", database),
        ],
    )
    .run()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_databases_back_up_in_one_run_and_each_restores_alone() {
    let started = std::time::Instant::now();
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 100);
    // A single-database backup first: its key and manifest keep the old layout.
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (single_key, single_manifest_key) = split_keys(&fx.keys().await);
    let name = single_key.rsplit('/').next().unwrap();
    assert!(
        single_key.starts_with("tidemark/shop/webshop/"),
        "{single_key}"
    );
    assert_eq!(name.len(), "20261123T140005Z.dump.zst".len(), "{name}");
    assert!(name.ends_with("Z.dump.zst"), "{name}");
    let raw: Value = serde_json::from_slice(&fx.download(&single_manifest_key).await).unwrap();
    assert!(
        raw.get("run").is_none(),
        "a single-database manifest has no run: {raw}"
    );
    let report = out.report.unwrap();
    assert!(report["backup"].get("databases").is_none(), "{report}");
    assert!(report["backup"].get("runId").is_none(), "{report}");

    let dbs = [("alpha", 11), ("beta", 22), ("gamma.x", 33)];
    for (db, rows) in dbs {
        make_database(&fx, db, rows);
    }
    let out = run_backup(&fx, &[("TIDEMARK_DATABASES", "alpha\nbeta\ngamma.x")]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    let backup = &report["backup"];
    let run_id = backup["runId"].as_str().unwrap().to_string();
    let listed: Vec<(&str, bool)> = backup["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["database"].as_str().unwrap(), d["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        listed,
        vec![("alpha", true), ("beta", true), ("gamma.x", true)]
    );

    // One data object and one manifest per database, all under the run's timestamp;
    // the run's claim is gone.
    let keys = fx.keys().await;
    assert!(!keys.iter().any(|k| k.ends_with(".claim")), "{keys:?}");
    // (The single backup may share the second: its objects' keys start with its data key.)
    let run_keys: Vec<&String> = keys
        .iter()
        .filter(|k| k.contains(&run_id) && !k.starts_with(single_key.as_str()))
        .collect();
    // Data, globals and manifest of each database.
    assert_eq!(run_keys.len(), 9, "{keys:?}");
    for k in keys
        .iter()
        .filter(|k| k.contains(&run_id) && k.ends_with(".dump.zst"))
    {
        let g = tidemark_crd::contract::keys::globals_key(k, CompressionTag::Zstd, false);
        assert!(keys.contains(&g), "{g} missing: {keys:?}");
        let m = fx.manifest(&manifest_key(k)).await;
        assert_eq!(m.globals.as_ref().map(|g| g.key.as_str()), Some(g.as_str()));
    }
    for db in ["alpha", "beta", "gamma%2Ex"] {
        let key = format!("tidemark/shop/webshop/{run_id}.{db}.dump.zst");
        assert!(keys.contains(&key), "{key} missing: {keys:?}");
        let manifest: Manifest =
            serde_json::from_slice(&fx.download(&format!("{key}{MANIFEST_SUFFIX}")).await).unwrap();
        let run = manifest.run.unwrap();
        assert_eq!(run.id, run_id);
        assert_eq!(run.databases, vec!["alpha", "beta", "gamma.x"]);
        assert_eq!(manifest.database, db.replace("%2E", "."));
        assert_eq!(
            manifest.tables.get("public.t").copied().map(|n| n > 0),
            Some(true)
        );
    }

    // The inventory: one run of three databases beside the single backup.
    let out = policy_run(
        &fx.s3,
        "list",
        "webshop",
        &[("TIDEMARK_LIST_OUTPUT", "json")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let rows: Vec<Value> = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(rows.len(), 4);
    let in_run: Vec<&str> = rows
        .iter()
        .filter(|r| r["run"] == run_id.as_str())
        .map(|r| r["database"].as_str().unwrap())
        .collect();
    assert_eq!(in_run.len(), 3, "{rows:?}");
    let table = policy_run(&fx.s3, "list", "webshop", &[]).run().unwrap();
    assert!(table.stdout.contains("DATABASE"), "{}", table.stdout);
    assert!(table.stdout.contains("gamma.x"), "{}", table.stdout);

    // Each database restores alone into a new database, with its own rows.
    for (db, rows) in dbs {
        let into = format!("restored_{}", db.replace('.', "_"));
        let out = restore_one(&fx, db, &into);
        assert_eq!(out.code, Some(0), "{db}: stderr: {}", out.stderr);
        assert_eq!(count_rows(&fx, &into), i64::from(rows), "{db}");
        let only = fx
            .pg
            .psql(&into, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
            .unwrap();
        assert_eq!(only, format!("only_{rows},t"), "{db}");
    }
    // Latest without a database is ambiguous for a run of several: refused, nothing made.
    let out = fx
        .restore_run(
            "restore",
            "never_made",
            &[("TIDEMARK_CREATE_DATABASE", "true")],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stdout: {}", out.stdout);
    assert!(
        out.stdout.contains("TIDEMARK_BACKUP_DATABASE"),
        "{}",
        out.stdout
    );
    let exists = fx
        .pg
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'never_made'",
        )
        .unwrap();
    assert_eq!(exists, "0");

    // Verify checks each database's object of the newest run.
    let out = policy_run(
        &fx.s3,
        "verify",
        "webshop",
        &[("TIDEMARK_VERIFY_MIN_SIZE", "1")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);

    // The restore test takes one database of the newest run (by rotation) into a
    // scratch database and compares its counts.
    let out = fx
        .restore_run("restore-test", "postgres", &[])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    let tested = report["restoreTest"]["key"].as_str().unwrap();
    assert!(tested.contains(&run_id), "{tested}");
    assert_eq!(report["restoreTest"]["mismatchCount"], 0);
    eprintln!(
        "multi_database three-database test: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_database_leaves_the_others_good_and_prune_removes_whole_runs() {
    let started = std::time::Instant::now();
    let fx = Fixture::seaweed().await;
    make_database(&fx, "alpha", 5);
    make_database(&fx, "beta", 6);

    // `gone` does not exist (dropped): the run goes on, the two others are committed.
    let out = run_backup(&fx, &[("TIDEMARK_DATABASES", "alpha\ngone\nbeta")]);
    assert_eq!(out.code, Some(2), "stdout: {}", out.stdout);
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "PartialBackup", "{report}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("gone"), "{message}");
    let failed: Vec<&Value> = report["backup"]["databases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["database"], "gone");
    assert_eq!(failed[0]["reason"], "PostgresRejected");
    let partial_run = report["backup"]["runId"].as_str().unwrap().to_string();
    let partial_keys = data_keys(&fx.keys().await);
    assert_eq!(partial_keys.len(), 2, "{partial_keys:?}");
    // Verify of the newest run finds the database that is missing from it.
    let out = policy_run(
        &fx.s3,
        "verify",
        "webshop",
        &[("TIDEMARK_VERIFY_MIN_SIZE", "1")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(3), "stdout: {}", out.stdout);
    let verify = out.report.unwrap();
    assert!(
        verify["verify"]["key"].as_str().unwrap().contains(".gone."),
        "{verify}"
    );
    // The good databases of the partial run restore.
    let out = restore_one(&fx, "beta", "beta_back");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(count_rows(&fx, "beta_back"), 6);

    // A complete run of every database but the system ones (`all` with exclusions).
    make_database(&fx, "gone", 7);
    let all = |fx: &Fixture| {
        run_backup(
            fx,
            &[
                ("TIDEMARK_DATABASES_ALL", "true"),
                ("TIDEMARK_DATABASES_EXCLUDE", "postgres\nshop\nbeta_back"),
            ],
        )
    };
    let out = all(&fx);
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);
    let complete_run = out.report.unwrap()["backup"]["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let keys = data_keys(&fx.keys().await);
    assert_eq!(keys.len(), 5, "{keys:?}");

    let prune = |fx: &Fixture| {
        policy_run(
            &fx.s3,
            "prune",
            "webshop",
            &[("TIDEMARK_KEEP_HOURLY", "1"), ("TIDEMARK_TIME_ZONE", "UTC")],
        )
        .run()
        .unwrap()
    };
    // The partial run is older than a complete one now: it goes, whole.
    let out = prune(&fx);
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);
    let keys = fx.keys().await;
    assert!(!keys.iter().any(|k| k.contains(&partial_run)), "{keys:?}");
    assert_eq!(
        keys.iter().filter(|k| k.contains(&complete_run)).count(),
        9,
        "{keys:?}"
    );

    // Another complete run in the same hour: the hourly tier keeps one run, so the
    // older complete run goes, all three databases of it.
    let out = all(&fx);
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);
    let newest_run = out.report.unwrap()["backup"]["runId"]
        .as_str()
        .unwrap()
        .to_string();
    // The claim moved the run to a new second if needed: two distinct runs.
    assert_ne!(newest_run, complete_run);
    let out = prune(&fx);
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);
    let keys = fx.keys().await;
    let same_hour = newest_run[..11] == complete_run[..11];
    if same_hour {
        assert!(!keys.iter().any(|k| k.contains(&complete_run)), "{keys:?}");
    }
    assert_eq!(
        keys.iter().filter(|k| k.contains(&newest_run)).count(),
        9,
        "{keys:?}"
    );
    eprintln!("multi_database failure/prune test: {:?}", started.elapsed());
}
