//! Backups that fail: nothing half-written remains, exit codes follow the contract,
//! messages are clear and never contain a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tidemark_testkit::tools;

/// Waits until the bucket lists a pending multipart upload (the stream is flowing).
async fn wait_for_pending_upload(fx: &Fixture) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while fx.pending_uploads().await.is_empty() {
        if Instant::now() >= deadline {
            panic!(
                "no multipart upload started; objects: {:?}",
                fx.keys().await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_failed(out: &tidemark_testkit::runner::RunnerOutput, code: i32, reason: &str) {
    assert_eq!(
        out.code,
        Some(code),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let report = out.report.as_ref().expect("a report line on stdout");
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["error"]["reason"], reason, "report: {report}");
    assert_eq!(
        out.termination_log.trim(),
        out.stdout.lines().last().unwrap().trim()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_dying_mid_stream_leaves_no_object_no_manifest_no_upload() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 60_000);
    let (_root, root) = dying_pg_dump(&fx.pg, 6_000_000);
    let out = fx
        .backup(&[
            ("TIDEMARK_PG_BIN_ROOT", root.to_str().unwrap()),
            ("TIDEMARK_COMPRESSION", "none"),
            ("TIDEMARK_PART_SIZE", "5MiB"),
        ])
        .run()
        .unwrap();
    assert_failed(&out, 1, "PgDumpFailed");
    let message = out.report.as_ref().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("signal 9"), "{message}");
    assert!(
        fx.keys().await.is_empty(),
        "objects left: {:?}",
        fx.keys().await
    );
    assert!(
        fx.pending_uploads().await.is_empty(),
        "multipart upload not aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_upload_aborts_everything() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 200_000);
    let mut cmd = fx.backup(&[
        ("TIDEMARK_COMPRESSION", "none"),
        ("TIDEMARK_PART_SIZE", "5MiB"),
        ("TIDEMARK_PARTS_IN_FLIGHT", "1"),
    ]);
    // `debug` logs far more than a pipe holds before the upload starts: the testkit
    // drains a spawned runner's output, so the runner never blocks on it.
    cmd.env("RUST_LOG", "debug");
    let (child, cmd) = cmd.spawn().unwrap();
    wait_for_pending_upload(&fx).await;
    tools::signal(child.id(), "TERM").unwrap();
    let out = cmd.wait(child).unwrap();
    assert_failed(&out, 1, "Interrupted");
    assert!(
        fx.keys().await.is_empty(),
        "objects left: {:?}",
        fx.keys().await
    );
    assert!(
        fx.pending_uploads().await.is_empty(),
        "multipart upload not aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_server_dying_mid_upload_fails_without_a_committed_backup() {
    let mut fx = Fixture::seaweed().await;
    seed(&fx.pg, 200_000);
    let (child, cmd) = fx
        .backup(&[
            ("TIDEMARK_COMPRESSION", "none"),
            ("TIDEMARK_PART_SIZE", "5MiB"),
            ("TIDEMARK_PARTS_IN_FLIGHT", "1"),
        ])
        .spawn()
        .unwrap();
    wait_for_pending_upload(&fx).await;
    fx.s3.stop();
    let started = Instant::now();
    let out = cmd.wait(child).unwrap();
    assert_failed(&out, 1, "S3Failed");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "gave up in reasonable time"
    );
    // The server is gone, so its state cannot be listed; restarting it on the same data
    // directory shows there is no object and no manifest. Its pending upload cannot have
    // been aborted while it was down (a bucket lifecycle rule or `prune` removes it).
    fx.s3.restart().unwrap();
    // Only the run's key claim may be left (S3 was gone when it would have been
    // released); it is no backup, and prune removes it after the grace period.
    let keys = fx.keys().await;
    assert!(
        keys.iter().all(|k| k.ends_with(".claim")),
        "objects after the failed run: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_s3_credentials_give_a_clear_config_error_without_secrets() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 100);
    let wrong_secret = "wrong-secret-3f9a1c77-do-not-print";
    let out = fx
        .backup(&[("AWS_SECRET_ACCESS_KEY", wrong_secret)])
        .run()
        .unwrap();
    assert_failed(&out, 2, "S3Denied");
    let message = out.report.as_ref().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    // The first request that must succeed is the claim of the key (PutObject).
    assert!(message.contains("PutObject (claim)"), "{message}");
    assert!(message.contains(BUCKET), "{message}");
    assert!(
        message.contains("SignatureDoesNotMatch") || message.contains("AccessDenied"),
        "{message}"
    );
    for secret in [
        wrong_secret,
        fx.s3.secret_key.as_str(),
        tidemark_testkit::postgres::PASSWORD,
    ] {
        for (name, text) in [
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("termination log", &out.termination_log),
        ] {
            assert!(!text.contains(secret), "a secret appears in {name}");
        }
    }
    assert!(fx.keys().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_database_password_is_a_config_error_without_the_password() {
    let fx = Fixture::seaweed().await;
    let wrong = "wrong-pg-password-81c2";
    let out = fx.backup(&[("PGPASSWORD", wrong)]).run().unwrap();
    assert_failed(&out, 2, "PostgresRejected");
    for text in [&out.stdout, &out.stderr, &out.termination_log] {
        assert!(!text.contains(wrong));
    }
    let out = fx
        .backup(&[(
            "TIDEMARK_DATABASE_URL",
            &format!(
                "postgres://postgres:{wrong}@127.0.0.1:{}/shop",
                fx.pg.port()
            ),
        )])
        .run()
        .unwrap();
    assert_failed(&out, 2, "PostgresRejected");
    for text in [&out.stdout, &out.stderr, &out.termination_log] {
        assert!(!text.contains(wrong));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pg_dump_major_is_a_config_error_naming_the_path() {
    let fx = Fixture::seaweed().await;
    let major = fx
        .pg
        .bin_dir()
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    // Nothing installed, then only a pg_dump older than the server: both are refused,
    // naming the server's major, the root and what is installed.
    let empty = tempfile::tempdir().unwrap();
    let older = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(older.path().join("13/bin")).unwrap();
    std::fs::write(older.path().join("13/bin/pg_dump"), "#!/bin/sh\nexit 1\n").unwrap();
    for (root, installed) in [(&empty, "none"), (&older, "13")] {
        let out = fx
            .backup(&[("TIDEMARK_PG_BIN_ROOT", root.path().to_str().unwrap())])
            .run()
            .unwrap();
        assert_failed(&out, 2, "PgDumpMissing");
        let message = out.report.as_ref().unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.contains(&format!(
                "server major {major} needs pg_dump of major {major} or newer"
            )),
            "{message}"
        );
        assert!(message.contains(root.path().to_str().unwrap()), "{message}");
        assert!(
            message.contains(&format!("(installed: {installed})")),
            "{message}"
        );
    }
    assert!(fx.keys().await.is_empty());
    assert!(fx.pending_uploads().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_exit_with_the_config_code_and_a_report() {
    let fx = Fixture::seaweed().await;
    for (key, value, needle) in [
        ("TIDEMARK_COMPRESSION_LEVEL", "42", "compression level"),
        (
            "TIDEMARK_AGE_RECIPIENTS",
            "age1garbage",
            "TIDEMARK_AGE_RECIPIENTS",
        ),
        ("TIDEMARK_PART_SIZE", "1MiB", "TIDEMARK_PART_SIZE"),
        ("TIDEMARK_COMPRESSION", "lz4", "lz4"),
    ] {
        let out = fx.backup(&[(key, value)]).run().unwrap();
        assert_eq!(out.code, Some(2), "{key}={value}: {}", out.stderr);
        let report = out.report.expect("report");
        assert_eq!(report["error"]["kind"], "config");
        let message = report["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{key}: {message}");
    }
}
