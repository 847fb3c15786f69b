//! `restore --preflight`: reports what the target holds and changes nothing — against
//! real PostgreSQL (the S3 settings are present as in the operator's Job, but unused).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_user_tables_missing_and_empty_databases_and_touches_nothing() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 10);
    let before = fx.pg.fingerprints(SOURCE_DB).unwrap();

    // A database with tables: reported, unchanged, exit 0 (deciding is the operator's).
    let out = fx
        .restore_run(
            "restore",
            SOURCE_DB,
            &[("TIDEMARK_RESTORE_PREFLIGHT", "true")],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["command"], "restore");
    let found = &report["preflight"];
    assert_eq!(found["database"], SOURCE_DB);
    assert_eq!(found["exists"], true);
    assert_eq!(found["userTables"], 4, "{report}");
    assert!(found["userObjects"].as_i64().unwrap() > 4, "{report}");
    assert!(report.get("restore").is_none());
    assert_eq!(fx.pg.fingerprints(SOURCE_DB).unwrap(), before);

    // An empty database.
    fx.pg.create_database("fresh").unwrap();
    let out = fx
        .restore_run(
            "restore",
            "fresh",
            &[("TIDEMARK_RESTORE_PREFLIGHT", "true")],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["preflight"]["exists"], true);
    assert_eq!(report["preflight"]["userTables"], 0);
    assert_eq!(report["preflight"]["userObjects"], 0);

    // A missing database with createDatabase: reported missing, not created.
    let out = fx
        .restore_run(
            "restore",
            "not_yet",
            &[
                ("TIDEMARK_RESTORE_PREFLIGHT", "true"),
                ("TIDEMARK_CREATE_DATABASE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["preflight"]["exists"], false);
    let exists = fx
        .pg
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'not_yet'",
        )
        .unwrap();
    assert_eq!(exists.trim(), "0", "the preflight created nothing");
}
