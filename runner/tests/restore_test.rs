//! `restore-test`: a good backup passes, manipulated manifest counts are detected, the
//! temporary database is always dropped (after success, failure and SIGTERM), an
//! ephemeral scratch server is used and waited for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tidemark_testkit::postgres::{PASSWORD, TestPostgres};

const PREFIX: &str = "tidemark_restore_test_";

fn scratch_databases(pg: &TestPostgres) -> String {
    pg.psql(
        "postgres",
        &format!("SELECT coalesce(string_agg(datname, ','), '') FROM pg_database WHERE datname LIKE '{PREFIX}%'"),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_backup_passes_and_manipulated_counts_are_detected() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 5_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, manifest_key) = split_keys(&fx.keys().await);

    let out = fx
        .restore_run("restore-test", "postgres", &[])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    let report = out.report.unwrap();
    assert_eq!(report["command"], "restore-test");
    let r = &report["restoreTest"];
    assert_eq!(r["key"], data_key.as_str());
    assert!(r["targetDatabase"].as_str().unwrap().starts_with(PREFIX));
    assert_eq!(r["databaseCreated"], true);
    assert_eq!(r["tablesCompared"], 4);
    assert_eq!(r["mismatchCount"], 0);
    assert!(r["durationMs"].as_u64().unwrap() > 0);
    assert_eq!(scratch_databases(&fx.pg), "", "dropped after success");

    // At parallelism 2: the parallel path (spool, pg_restore -j2, renamed to the scratch
    // name), the same comparison, nothing left behind.
    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().display().to_string();
    let parallel = [
        ("TIDEMARK_RESTORE_PARALLELISM", "2"),
        ("TIDEMARK_RESTORE_SPOOL_DIR", spool_dir.as_str()),
    ];
    let out = fx
        .restore_run("restore-test", "postgres", &parallel)
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("--jobs=2"), "{}", out.stderr);
    let report = out.report.unwrap();
    let r = &report["restoreTest"];
    assert!(r["targetDatabase"].as_str().unwrap().starts_with(PREFIX));
    assert_eq!(r["tablesCompared"], 4);
    assert_eq!(r["mismatchCount"], 0);
    assert_eq!(scratch_databases(&fx.pg), "", "dropped after success");
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);

    // Manipulate the manifest's counts: the restored data no longer matches.
    let mut manifest = fx.manifest(&manifest_key).await;
    *manifest.tables.get_mut("sales.orders").unwrap() += 1;
    *manifest.tables.get_mut("public.Audit Log").unwrap() -= 7;
    fx.s3
        .client()
        .put_object()
        .bucket(BUCKET)
        .key(&manifest_key)
        .body(serde_json::to_vec(&manifest).unwrap().into())
        .send()
        .await
        .unwrap();
    let out = fx
        .restore_run("restore-test", "postgres", &[])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["error"]["reason"], "RowCountMismatch");
    let out_parallel = fx
        .restore_run("restore-test", "postgres", &parallel)
        .run()
        .unwrap();
    assert_eq!(
        out_parallel.code,
        Some(3),
        "stderr: {}",
        out_parallel.stderr
    );
    let rp = out_parallel.report.unwrap();
    assert_eq!(rp["error"]["reason"], "RowCountMismatch");
    assert_eq!(rp["restoreTest"]["mismatchCount"], 2, "{rp}");
    assert_eq!(scratch_databases(&fx.pg), "", "dropped after a mismatch");
    let r = &report["restoreTest"];
    assert_eq!(r["mismatchCount"], 2);
    assert_eq!(r["tablesCompared"], 4);
    let listed: Vec<(String, i64, i64)> = r["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["table"].as_str().unwrap().to_string(),
                m["expected"].as_i64().unwrap(),
                m["actual"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("public.Audit Log".to_string(), 70, 77),
            ("sales.orders".to_string(), 5_001, 5_000)
        ]
    );
    assert_eq!(scratch_databases(&fx.pg), "", "dropped after a failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_the_restore_still_drops_the_scratch_database() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 60_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (child, cmd) = fx
        .restore_run("restore-test", "postgres", &[])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while scratch_databases(&fx.pg).is_empty() {
        assert!(Instant::now() < deadline, "no scratch database appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = cmd.wait(child).unwrap();
    let report = out.report.unwrap();
    assert_eq!(report["outcome"], "failed", "{report}");
    assert_eq!(report["error"]["reason"], "Interrupted", "{report}");
    assert_eq!(out.code, Some(1));
    assert_eq!(scratch_databases(&fx.pg), "", "dropped after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_server_is_used_and_an_absent_one_times_out() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 1_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    // A freshly started, empty server (the sidecar in Kubernetes).
    let scratch = TestPostgres::start().unwrap();
    let mut cmd = fx.restore_run(
        "restore-test",
        "postgres",
        &[
            ("TIDEMARK_RESTORE_TEST_TARGET", "ephemeral"),
            ("TIDEMARK_SCRATCH_WAIT", "30s"),
        ],
    );
    cmd.env("PGPORT", &scratch.port().to_string());
    let out = cmd.run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["restoreTest"]["tablesCompared"], 4);
    assert_eq!(scratch_databases(&scratch), "");
    assert_eq!(
        scratch_databases(&fx.pg),
        "",
        "the source server was not used"
    );

    // Nothing listens: waited for, then a clear runtime error.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = fx.restore_run(
        "restore-test",
        "postgres",
        &[
            ("TIDEMARK_RESTORE_TEST_TARGET", "ephemeral"),
            ("TIDEMARK_SCRATCH_WAIT", "2s"),
        ],
    );
    cmd.env("PGPORT", &closed.to_string());
    let started = Instant::now();
    let out = cmd.run().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    let message = out.report.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("did not accept connections"), "{message}");
}
