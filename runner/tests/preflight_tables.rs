//! `restore --preflight` of a data-only restore: the target must hold every table the
//! restore writes, checked against real PostgreSQL (and the backup's manifest on
//! SeaweedFS) before anything is touched. A full restore's preflight only reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const PREFLIGHT: (&str, &str) = ("TIDEMARK_RESTORE_PREFLIGHT", "true");
const DATA_ONLY: (&str, &str) = ("TIDEMARK_RESTORE_CONTENT", "data-only");

fn failure(out: &tidemark_testkit::runner::RunnerOutput) -> (String, String) {
    let report = out.report.clone().unwrap();
    let error = &report["error"];
    (
        error["reason"].as_str().unwrap().to_string(),
        error["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_only_preflight_names_the_tables_the_target_lacks_and_touches_nothing() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 10);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    // A target with one of the backup's four tables.
    fx.pg.create_database("partial").unwrap();
    fx.pg
        .psql(
            "partial",
            "CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, \
             email text UNIQUE, created timestamptz NOT NULL)",
        )
        .unwrap();
    let before = fx.pg.fingerprints("partial").unwrap();

    // Every table of the backup: three are missing, named; exit 2; the target's
    // state is still reported; nothing changed.
    let out = fx
        .restore_run("restore", "partial", &[PREFLIGHT, DATA_ONLY])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let (reason, message) = failure(&out);
    assert_eq!(reason, "TargetTablesMissing");
    for table in ["public.Audit Log", "public.empty_table", "sales.orders"] {
        assert!(message.contains(table), "{table} not named: {message}");
    }
    assert!(!message.contains("public.customers"), "{message}");
    assert!(message.contains("lacks 3 table(s)"), "{message}");
    assert!(message.contains("nothing was touched"), "{message}");
    let report = out.report.unwrap();
    assert_eq!(report["preflight"]["database"], "partial");
    assert_eq!(report["preflight"]["userTables"], 1);
    assert!(report.get("restore").is_none());
    assert_eq!(fx.pg.fingerprints("partial").unwrap(), before);

    // Selected tables: only those count.
    let out = fx
        .restore_run(
            "restore",
            "partial",
            &[
                PREFLIGHT,
                DATA_ONLY,
                ("TIDEMARK_RESTORE_TABLES", "public.customers"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let out = fx
        .restore_run(
            "restore",
            "partial",
            &[
                PREFLIGHT,
                DATA_ONLY,
                ("TIDEMARK_RESTORE_TABLES", "public.customers,sales.orders"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let (reason, message) = failure(&out);
    assert_eq!(reason, "TargetTablesMissing");
    assert!(
        message.contains("lacks 1 table(s) the restore writes (sales.orders)"),
        "{message}"
    );

    // The source itself holds every table.
    let out = fx
        .restore_run("restore", SOURCE_DB, &[PREFLIGHT, DATA_ONLY])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    // A database that would be created holds none: refused, and not created.
    let out = fx
        .restore_run(
            "restore",
            "not_yet",
            &[PREFLIGHT, DATA_ONLY, ("TIDEMARK_CREATE_DATABASE", "true")],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let (reason, message) = failure(&out);
    assert_eq!(reason, "TargetTablesMissing");
    assert!(message.contains("does not exist yet"), "{message}");
    let exists = fx
        .pg
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'not_yet'",
        )
        .unwrap();
    assert_eq!(exists.trim(), "0", "the preflight created nothing");

    // A full restore's preflight checks no tables: it reports (the operator decides).
    let out = fx
        .restore_run("restore", "partial", &[PREFLIGHT])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["preflight"]["userTables"], 1);
    assert_eq!(fx.pg.fingerprints("partial").unwrap(), before);
}
