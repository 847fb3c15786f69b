//! Secrets on real servers: the tools the runner starts get only the environment they
//! need (pg_dump never sees the S3 keys; the SQL converter never sees a password), an
//! age identity pasted as a recipient is never echoed, and a URL password containing
//! `@` never shows up in part as a host or database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use tidemark_testkit::postgres::{PASSWORD, TestPostgres};
use tidemark_testkit::runner::RunnerOutput;

fn assert_no_secret(out: &RunnerOutput, secret: &str) {
    assert!(!out.stdout.contains(secret), "secret in stdout");
    assert!(!out.stderr.contains(secret), "secret in stderr");
    assert!(
        !out.termination_log.contains(secret),
        "secret in the report"
    );
}

/// A bin root whose pg_dump, pg_restore and psql write their environment to
/// `<log>/<tool>.<pid>.env` and then run the real tool.
fn logging_tools(pg: &TestPostgres) -> (tempfile::TempDir, PathBuf) {
    let (root, bin) = tool_root(pg);
    let log = root.path().join("log");
    std::fs::create_dir_all(&log).unwrap();
    for tool in ["pg_dump", "pg_restore", "psql"] {
        let script = format!(
            "#!/bin/sh\n/usr/bin/env > {log}/{tool}.$$.env\nexec {real} \"$@\"\n",
            log = log.display(),
            real = pg.bin_dir().join(tool).display()
        );
        let path = bin.join(tool);
        std::fs::write(&path, script).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    (root, log)
}

/// The environments logged by `tool`, one string each.
fn logged(log: &Path, tool: &str) -> Vec<String> {
    std::fs::read_dir(log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{tool}."))
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn names(env: &str) -> Vec<&str> {
    env.lines().filter_map(|l| l.split('=').next()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_get_only_the_environment_they_need() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 50);
    let (root, log) = logging_tools(&fx.pg);
    let root_str = root.path().display().to_string();
    let (identity, recipient) = age_keypair();
    let identity = age::secrecy::ExposeSecret::expose_secret(&identity.to_string()).to_string();
    let out = fx
        .backup(&[
            ("TIDEMARK_PG_BIN_ROOT", &root_str),
            ("TIDEMARK_AGE_RECIPIENTS", &recipient),
            // Not needed by a backup, but present in the runner's environment: it must
            // not reach pg_dump either.
            ("TIDEMARK_AGE_IDENTITY", &identity),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let dumps = logged(&log, "pg_dump");
    assert!(!dumps.is_empty());
    for env in &dumps {
        let names = names(env);
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with("AWS_") && !n.starts_with("TIDEMARK_")),
            "{names:?}"
        );
        assert!(
            !env.contains(&fx.s3.secret_key),
            "S3 secret reached pg_dump"
        );
        assert!(!env.contains(&identity), "the age identity reached pg_dump");
    }
    // The dump itself connects: it needs the password (`--version` does not).
    assert!(
        dumps
            .iter()
            .any(|env| names(env).contains(&"PGHOST") && names(env).contains(&"PGPASSWORD")),
        "{dumps:?}"
    );

    // A restore of selected tables runs pg_restore as a converter (no connection) and
    // psql: the converter gets no password, neither gets S3 keys or the identity.
    let out = fx
        .restore_run(
            "restore",
            "copy",
            &[
                ("TIDEMARK_CREATE_DATABASE", "true"),
                ("TIDEMARK_RESTORE_TABLES", "public.customers"),
                ("TIDEMARK_PG_BIN_ROOT", &root_str),
                ("TIDEMARK_AGE_IDENTITY", &identity),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let converters = logged(&log, "pg_restore");
    let psqls = logged(&log, "psql");
    assert!(!converters.is_empty() && !psqls.is_empty());
    for env in converters.iter().chain(&psqls) {
        let names = names(env);
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with("AWS_") && !n.starts_with("TIDEMARK_")),
            "{names:?}"
        );
        assert!(!env.contains(&identity), "the age identity reached a tool");
        assert!(
            !env.contains(&fx.s3.secret_key),
            "S3 secret reached a restore tool"
        );
    }
    for env in &converters {
        assert!(!env.contains(PASSWORD), "the converter got the password");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_identity_and_an_at_sign_password_are_never_echoed() {
    let fx = Fixture::seaweed().await;
    let (identity, _) = age_keypair();
    let identity = age::secrecy::ExposeSecret::expose_secret(&identity.to_string()).to_string();
    let out = fx
        .backup(&[("TIDEMARK_AGE_RECIPIENTS", &identity)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let report = out.report.clone().unwrap();
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("age identity (a secret key)"),
        "{report}"
    );
    // Not even the part after the fixed `AGE-SECRET-KEY-1` prefix.
    assert_no_secret(&out, &identity[16..]);

    // A wrong password with `@` in it: refused by the server, and no part of it is
    // shown as a host or database.
    let url = format!(
        "postgres://postgres:wr0ng@pa55-do-not-print@127.0.0.1:{}/{SOURCE_DB}?sslmode=disable",
        fx.pg.port()
    );
    let out = fx.backup(&[("TIDEMARK_DATABASE_URL", &url)]).run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert_eq!(
        out.report.clone().unwrap()["error"]["reason"],
        "PostgresRejected"
    );
    assert_no_secret(&out, "pa55-do-not-print");
    assert_no_secret(&out, "wr0ng");
}
