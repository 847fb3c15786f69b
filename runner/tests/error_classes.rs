//! Errors are classified as the docs promise, on one line, on real servers: a corrupt
//! object that makes pg_restore fail before the hash is complete is a checksum failure
//! (exit 3), not a retryable tool failure; a pg_restore killed from outside is reported
//! as killed, not as a broken pipe; missing S3 credentials and bad arguments are
//! configuration errors (exit 2) on one line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn message(out: &tidemark_testkit::runner::RunnerOutput) -> String {
    let report = out.report.clone().unwrap();
    let m = report["error"]["message"].as_str().unwrap().to_string();
    assert!(!m.contains('\n'), "not one line: {m}");
    m
}

/// A bin root whose pg_restore gets the first megabyte of its input, then nothing, and
/// is killed with SIGKILL one second after it started (while it waits for more).
fn dying_pg_restore(fx: &Fixture) -> tempfile::TempDir {
    let (root, bin) = tool_root(&fx.pg);
    for tool in ["pg_dump", "psql"] {
        std::os::unix::fs::symlink(fx.pg.bin_dir().join(tool), bin.join(tool)).unwrap();
    }
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then exec {real} --version; fi\n\
         exec 3<&0\n{{ head -c 1000000 <&3; sleep 3; }} | {real} \"$@\" &\nsleep 1\nkill -9 $$\n",
        real = fx.pg.bin_dir().join("pg_restore").display()
    );
    let path = bin.join("pg_restore");
    std::fs::write(&path, script).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_failures_name_their_real_cause() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 100_000);
    let out = fx
        .backup(&[("TIDEMARK_COMPRESSION", "none")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let key = out.report.unwrap()["backup"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let good = fx.download(&key).await;

    // pg_restore killed from outside, mid-restore: "killed by signal 9".
    let root = dying_pg_restore(&fx);
    let out = fx
        .restore_run(
            "restore",
            "killed",
            &[
                ("TIDEMARK_CREATE_DATABASE", "true"),
                ("TIDEMARK_PG_BIN_ROOT", &root.path().display().to_string()),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    assert_eq!(
        out.report.clone().unwrap()["error"]["reason"],
        "RestoreFailed"
    );
    let m = message(&out);
    assert!(m.contains("killed by signal 9"), "{m}");
    assert!(!m.to_lowercase().contains("broken pipe"), "{m}");

    // The archive's header corrupted: pg_restore gives up at once, long before the
    // object is hashed; the cause is the object, a check failure.
    let mut bad = good.clone();
    bad[1] ^= 0x20;
    put_object(&fx.s3, &key, bad).await;
    let out = fx
        .restore_run(
            "restore",
            "corrupt",
            &[("TIDEMARK_CREATE_DATABASE", "true")],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert_eq!(
        out.report.clone().unwrap()["error"]["reason"],
        "ChecksumMismatch"
    );
    let m = message(&out);
    assert!(m.contains("nothing was committed"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_are_configuration_errors_on_one_line() {
    let s3 = seaweed_bucket().await;
    // No credentials anywhere in the chain.
    let mut cmd = policy_run(&s3, "list", "web", &[]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = cmd.run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert_eq!(
        out.report.clone().unwrap()["error"]["reason"],
        "S3CredentialsMissing"
    );
    message(&out);

    // A malformed endpoint.
    let out = policy_run(
        &s3,
        "list",
        "web",
        &[("TIDEMARK_S3_ENDPOINT", "localhost:9000")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert!(message(&out).contains("TIDEMARK_S3_ENDPOINT"));

    // A bad flag: clap's error without its usage lines.
    let mut cmd = policy_run(&s3, "list", "web", &[]);
    cmd.env("TIDEMARK_S3_MAX_ATTEMPTS", "0");
    let out = cmd.run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let m = message(&out);
    assert!(!m.contains("Usage:") && m.contains("max-attempts"), "{m}");
}

/// Missing S3 credentials are a missing setting, not a refusal by the bucket: every
/// subcommand that reaches S3 says no credentials were found and which variables (and
/// which Secret references) provide them, and never shows the half that was set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_s3_credentials_name_the_settings_not_the_bucket_policy() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 10);
    let secret = fx
        .s3
        .runner_env(BUCKET)
        .into_iter()
        .find(|(k, _)| k == "AWS_SECRET_ACCESS_KEY")
        .map(|(_, v)| v)
        .unwrap();
    let runs = [
        ("backup", fx.backup(&[])),
        ("list", policy_run(&fx.s3, "list", "webshop", &[])),
        ("verify", policy_run(&fx.s3, "verify", "webshop", &[])),
    ];
    for (subcommand, mut cmd) in runs {
        // The secret key alone (its Secret key id missing) is no credential either.
        cmd.env_remove("AWS_ACCESS_KEY_ID");
        let out = cmd.run().unwrap();
        assert_eq!(out.code, Some(2), "{subcommand}: stderr: {}", out.stderr);
        let report = out.report.clone().unwrap();
        assert_eq!(
            report["error"]["reason"], "S3CredentialsMissing",
            "{report}"
        );
        assert_eq!(report["error"]["kind"], "config", "{report}");
        let m = message(&out);
        for expected in [
            "no S3 credentials found",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "accessKeyIdSecretRef",
            "secretAccessKeySecretRef",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ] {
            assert!(m.contains(expected), "{subcommand}: no {expected:?} in {m}");
        }
        assert!(!m.contains("S3 refused"), "{subcommand}: {m}");
        assert!(!m.contains(&secret), "{subcommand}: the secret in {m}");
        assert!(
            !out.stderr.contains(&secret),
            "{subcommand}: the secret in the log"
        );
    }
    assert!(
        fx.keys().await.is_empty(),
        "a run without credentials wrote nothing"
    );
}
