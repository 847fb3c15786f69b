//! The PostgreSQL version matrix on real servers of every supported major (13–18,
//! installed by `scripts/pg-majors.sh`): each major is backed up (with its own
//! `pg_dump` where the install has one, otherwise the nearest newer one), restored into a new
//! database on the same major and on 18 (the upgrade path of a lost server; with the
//! parallel path, so every archive version goes through it), and a
//! backup of a newer major is refused by an older server before anything changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::*;
use tidemark_testkit::postgres::{TestPostgres, majors_root};
use tidemark_testkit::s3::S3Server;

const MAJORS: [u32; 6] = [13, 14, 15, 16, 17, 18];

fn pg_env(pg: &TestPostgres, db: &str) -> Vec<(String, String)> {
    let mut env = pg.env(db);
    env.push((
        "TIDEMARK_PG_BIN_ROOT".into(),
        majors_root().unwrap().display().to_string(),
    ));
    env
}

fn run(
    s3: &S3Server,
    subcommand: &str,
    policy: &str,
    pg: &TestPostgres,
    db: &str,
    extra: &[(&str, &str)],
) -> tidemark_testkit::runner::RunnerOutput {
    let env = pg_env(pg, db);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    policy_run(s3, subcommand, policy, &all).run().unwrap()
}

fn seed_major(pg: &TestPostgres) {
    pg.create_database(SOURCE_DB).unwrap();
    seed(pg, 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_major_backs_up_and_restores_into_itself_and_into_18() {
    let started = Instant::now();
    let s3 = seaweed_bucket().await;
    let newest = TestPostgres::start_major(18).unwrap();
    for major in MAJORS {
        let pg = if major == 18 {
            None
        } else {
            Some(TestPostgres::start_major(major).unwrap())
        };
        let source = pg.as_ref().unwrap_or(&newest);
        assert_eq!(source.major().unwrap(), major);
        let policy = format!("pg{major}");
        let source_db = SOURCE_DB;
        seed_major(source);
        let expected = source.fingerprints(source_db).unwrap();

        let out = run(&s3, "backup", &policy, source, source_db, &[]);
        assert_eq!(out.code, Some(0), "backup of {major}: {}", out.stderr);
        let report = out.report.unwrap();
        let backup = &report["backup"];
        let server = backup["serverVersion"].as_str().unwrap_or_default();
        assert!(server.starts_with(&format!("{major}.")), "{backup}");
        // The server's own pg_dump where the install has one (15, 16, 18), else the
        // nearest newer one.
        let dump_major = match major {
            13 | 14 => 15,
            17 => 18,
            own => own,
        };
        let dumped_by = backup["pgDumpVersion"].as_str().unwrap_or_default();
        assert!(
            dumped_by.contains(&format!("(PostgreSQL) {dump_major}.")),
            "major {major} dumped by {dumped_by}"
        );

        // Into a new database of the same major.
        let out = run(
            &s3,
            "restore",
            &policy,
            source,
            "same_major",
            &[("TIDEMARK_CREATE_DATABASE", "true")],
        );
        assert_eq!(
            out.code,
            Some(0),
            "restore {major} → {major}: {}",
            out.stderr
        );
        assert_eq!(
            source.fingerprints("same_major").unwrap(),
            expected,
            "{major} → {major}"
        );

        // Into 18: the new server of a disaster is usually a newer major; in parallel,
        // so every archive version (1.14 to 1.16) goes through the parallel path's walker.
        let target = format!("from_{major}");
        let out = run(
            &s3,
            "restore",
            &policy,
            &newest,
            &target,
            &[
                ("TIDEMARK_CREATE_DATABASE", "true"),
                ("TIDEMARK_RESTORE_PARALLELISM", "2"),
                ("RUST_LOG", "info"),
            ],
        );
        assert!(
            out.stderr.contains("every row is in the side database"),
            "{major} → 18 took the parallel path: {}",
            out.stderr
        );
        assert_eq!(out.code, Some(0), "restore {major} → 18: {}", out.stderr);
        assert_eq!(
            newest.fingerprints(&target).unwrap(),
            expected,
            "{major} → 18"
        );
        eprintln!(
            "major {major} done after {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    // A backup of 18 into a 13 server: refused before anything changes — no database
    // created, an existing one untouched.
    let old = TestPostgres::start_major(13).unwrap();
    old.create_database("kept").unwrap();
    old.psql(
        "kept",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)",
    )
    .unwrap();
    let before = old.fingerprints("kept").unwrap();
    for (db, extra) in [
        ("created", &[("TIDEMARK_CREATE_DATABASE", "true")][..]),
        ("kept", &[("TIDEMARK_RESTORE_CLEAN", "true")][..]),
    ] {
        let out = run(&s3, "restore", "pg18", &old, db, extra);
        assert_eq!(
            out.code,
            Some(2),
            "newer into older must fail: {}",
            out.stderr
        );
        let report = out.report.unwrap();
        assert_eq!(report["error"]["reason"], "TargetServerTooOld", "{report}");
        let message = report["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("PostgreSQL 18") && message.contains("PostgreSQL 13"),
            "{message}"
        );
        assert!(message.contains("nothing was changed"), "{message}");
    }
    let databases = old
        .psql(
            "postgres",
            "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database",
        )
        .unwrap();
    assert!(!databases.contains("created"), "{databases}");
    assert_eq!(old.fingerprints("kept").unwrap(), before);
    eprintln!("matrix done in {:.1} s", started.elapsed().as_secs_f64());
}
