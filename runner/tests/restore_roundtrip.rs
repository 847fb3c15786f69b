//! Restores that succeed: full round trips (custom and plain), selected tables with
//! data-only, choosing a backup by time, creating the target database — all through
//! the real binary against real PostgreSQL and SeaweedFS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use age::secrecy::ExposeSecret;
use common::*;
use tidemark_testkit::postgres::PASSWORD;
use tidemark_testkit::runner::RunnerOutput;

/// No secret value in anything the runner printed or reported.
fn assert_no_secrets(out: &RunnerOutput, secrets: &[&str]) {
    for s in secrets {
        assert!(!out.stdout.contains(s), "secret in stdout");
        assert!(!out.stderr.contains(s), "secret in stderr");
        assert!(!out.termination_log.contains(s), "secret in the report");
    }
}

fn secret_key(fx: &Fixture) -> String {
    fx.s3
        .runner_env(BUCKET)
        .into_iter()
        .find(|(k, _)| k == "AWS_SECRET_ACCESS_KEY")
        .map(|(_, v)| v)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_backup_restores_into_a_new_database_identically_and_again_with_clean() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 20_000);
    let EncryptedBackup {
        identity,
        data_key,
        manifest_key,
        ..
    } = fx.encrypted_backup().await;
    let manifest = fx.manifest(&manifest_key).await;
    let secret = identity.to_string();
    let secret = secret.expose_secret();

    let out = fx
        .restore_run(
            "restore",
            "restored",
            &[
                ("TIDEMARK_AGE_IDENTITY", secret),
                ("TIDEMARK_CREATE_DATABASE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_no_secrets(&out, &[secret, PASSWORD, &secret_key(&fx)]);
    let report = out.report.clone().unwrap();
    assert_eq!(report["command"], "restore");
    assert_eq!(report["outcome"], "succeeded");
    let r = &report["restore"];
    assert_eq!(r["key"], data_key.as_str());
    assert_eq!(r["sha256"], manifest.sha256.as_str());
    assert_eq!(r["targetDatabase"], "restored");
    assert_eq!(r["databaseCreated"], true);
    assert_eq!(r["content"], "Full");
    assert_eq!(r["tablesRestored"], 4);
    assert_eq!(r["tablesCompared"], 4);
    assert_eq!(r["mismatchCount"], 0);
    assert!(r["durationMs"].as_u64().unwrap() > 0);
    assert!(out.termination_log.len() < 4096);
    let source = fx.pg.fingerprints(SOURCE_DB).unwrap();
    assert_eq!(fx.pg.fingerprints("restored").unwrap(), source);

    // Again into the now populated database: clean (the default) drops and recreates.
    fx.pg
        .psql(
            "restored",
            "INSERT INTO public.customers (name) VALUES ('extra')",
        )
        .unwrap();
    let out = fx
        .restore_run("restore", "restored", &[("TIDEMARK_AGE_IDENTITY", secret)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["restore"]["databaseCreated"], false);
    assert_eq!(fx.pg.fingerprints("restored").unwrap(), source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_gzip_backup_restores_with_psql() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 3_000);
    let out = fx
        .backup(&[
            ("TIDEMARK_DUMP_FORMAT", "plain"),
            ("TIDEMARK_COMPRESSION", "gzip"),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let out = fx
        .restore_run(
            "restore",
            "plain_copy",
            &[("TIDEMARK_CREATE_DATABASE", "true")],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["restore"]["tablesCompared"], 4);
    assert_eq!(
        fx.pg.fingerprints("plain_copy").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );
    // A plain dump cannot drop what is there: a second run is refused, nothing touched.
    let before = fx.pg.fingerprints("plain_copy").unwrap();
    let out = fx.restore_run("restore", "plain_copy", &[]).run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refusing to restore into database plain_copy"),
        "{report}"
    );
    assert_eq!(fx.pg.fingerprints("plain_copy").unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_tables_data_only_restore_touches_only_those_tables() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_CREATE_DATABASE", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let source = fx.pg.fingerprints(SOURCE_DB).unwrap();

    // Damage two tables, then restore the data of one of them (and of the empty table).
    fx.pg
        .psql(
            "target",
            "DELETE FROM public.\"Audit Log\" WHERE id > 10; \
             UPDATE public.\"Audit Log\" SET \"Message\" = 'changed' WHERE id = 1; \
             INSERT INTO public.empty_table VALUES (1), (2); \
             UPDATE public.customers SET name = 'changed' WHERE id = 1",
        )
        .unwrap();
    let changed_customers = fx.pg.fingerprints("target").unwrap()["public.customers"].clone();
    let out = fx
        .restore_run(
            "restore",
            "target",
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                (
                    "TIDEMARK_RESTORE_TABLES",
                    "public.Audit Log,public.empty_table",
                ),
                ("TIDEMARK_RESTORE_TRUNCATE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let r = out.report.unwrap()["restore"].clone();
    assert_eq!(r["content"], "DataOnly");
    assert_eq!(r["tablesRestored"], 2);
    assert_eq!(r["tablesCompared"], 2);
    let after = fx.pg.fingerprints("target").unwrap();
    assert_eq!(after["public.Audit Log"], source["public.Audit Log"]);
    assert_eq!(after["public.empty_table"], source["public.empty_table"]);
    assert_eq!(after["public.customers"], changed_customers, "untouched");
    assert_eq!(after["sales.orders"], source["sales.orders"]);

    // Without truncate the restored rows come on top: the counts no longer match the
    // manifest, which fails the restore (exit 3) and lists the table.
    let out = fx
        .restore_run(
            "restore",
            "target",
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TABLES", "public.empty_table"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(
        out.code,
        Some(0),
        "empty table: nothing to duplicate: {}",
        out.stderr
    );
    fx.pg
        .psql("target", "INSERT INTO public.empty_table VALUES (7)")
        .unwrap();
    let out = fx
        .restore_run(
            "restore",
            "target",
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TABLES", "public.empty_table"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "RowCountMismatch");
    assert_eq!(report["restore"]["mismatchCount"], 1);
    assert_eq!(
        report["restore"]["mismatches"][0]["table"],
        "public.empty_table"
    );
    assert_eq!(report["restore"]["mismatches"][0]["expected"], 0);
    assert_eq!(report["restore"]["mismatches"][0]["actual"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_time_selects_the_newest_backup_completed_before_it() {
    let fx = Fixture::seaweed().await;
    fx.pg
        .psql(SOURCE_DB, "CREATE TABLE public.generation (n int)")
        .unwrap();
    let mut completed = Vec::new();
    for n in 1..=3 {
        fx.pg
            .psql(
                SOURCE_DB,
                &format!("TRUNCATE public.generation; INSERT INTO public.generation VALUES ({n})"),
            )
            .unwrap();
        let out = fx.backup(&[]).run().unwrap();
        assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
        let key = out.report.unwrap()["backup"]["manifestKey"]
            .as_str()
            .unwrap()
            .to_string();
        completed.push(fx.manifest(&key).await.completed_at);
        // Keys have one-second resolution.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let generation = |db: &str| fx.pg.psql(db, "SELECT n FROM public.generation").unwrap();
    // Just after the second completed, before the third: the second.
    let before = (completed[1] + chrono::Duration::milliseconds(1)).to_rfc3339();
    assert!(completed[2] > completed[1] + chrono::Duration::milliseconds(1));
    let out = fx
        .restore_run(
            "restore",
            "by_time",
            &[
                ("TIDEMARK_CREATE_DATABASE", "true"),
                ("TIDEMARK_BACKUP_BEFORE", &before),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(generation("by_time"), "2");
    // Latest: the third.
    let out = fx.restore_run("restore", "by_time", &[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(generation("by_time"), "3");
    // Exactly at the first completion: strictly before it there is nothing.
    let out = fx
        .restore_run(
            "restore",
            "by_time",
            &[("TIDEMARK_BACKUP_BEFORE", &completed[0].to_rfc3339())],
        )
        .run()
        .unwrap();
    assert_ne!(out.code, Some(0));
    assert_eq!(generation("by_time"), "3", "nothing restored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_restore_without_clean_refuses_a_non_empty_database_and_fills_an_empty_one() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 500);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    fx.pg.create_database("busy").unwrap();
    fx.pg
        .psql(
            "busy",
            "CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (42)",
        )
        .unwrap();
    let out = fx
        .restore_run("restore", "busy", &[("TIDEMARK_RESTORE_CLEAN", "false")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["error"]["kind"], "config");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refusing to restore into database busy")
    );
    assert_eq!(
        fx.pg
            .psql(
                "busy",
                "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'"
            )
            .unwrap(),
        "keep_me"
    );
    // An existing empty database is fine without clean.
    fx.pg.create_database("empty").unwrap();
    let out = fx
        .restore_run(
            "restore",
            "empty",
            &[
                ("TIDEMARK_RESTORE_CLEAN", "false"),
                ("TIDEMARK_RESTORE_NO_OWNER", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        fx.pg.fingerprints("empty").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );
}
