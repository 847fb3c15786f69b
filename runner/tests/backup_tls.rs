//! TLS to PostgreSQL with libpq's sslmode semantics, for the runner's own connection
//! and for pg_dump (which gets the same settings through its environment). The test
//! server accepts TCP connections only over TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use tidemark_testkit::postgres::TestPostgres;
use tidemark_testkit::runner::RunnerCommand;
use tidemark_testkit::s3::S3Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_connect_over_tls_with_require_and_verify_full() {
    let pg = TestPostgres::start_tls().unwrap();
    let s3 = S3Server::seaweedfs().unwrap();
    s3.create_bucket(common::BUCKET).await.unwrap();
    pg.psql(
        "postgres",
        "CREATE TABLE t AS SELECT g FROM generate_series(1, 10) g",
    )
    .unwrap();
    let ca = pg.tls_ca().unwrap().to_str().unwrap().to_string();
    let other_ca = tempfile::NamedTempFile::new().unwrap();
    // A CA that did not sign the server certificate.
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "/dev/null",
        ])
        .args([
            "-out",
            other_ca.path().to_str().unwrap(),
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());

    let run = |extra: &[(&str, &str)]| {
        let mut env = pg.env("postgres");
        env.extend(s3.runner_env(common::BUCKET));
        env.push(("TIDEMARK_POLICY_NAMESPACE".into(), "tls".into()));
        env.push(("TIDEMARK_POLICY_NAME".into(), "p".into()));
        env.push((
            "TIDEMARK_PG_BIN_ROOT".into(),
            pg.bin_root().display().to_string(),
        ));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        RunnerCommand::new(Path::new(common::BIN), &["backup"], &env)
            .unwrap()
            .run()
            .unwrap()
    };

    let out = run(&[("PGSSLMODE", "require")]);
    assert_eq!(out.code, Some(0), "require: {}", out.stderr);
    assert_eq!(out.report.unwrap()["backup"]["totalRows"], 10);

    let out = run(&[
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", &ca),
        ("PGHOST", "localhost"),
    ]);
    assert_eq!(out.code, Some(0), "verify-full: {}", out.stderr);

    let out = run(&[
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", other_ca.path().to_str().unwrap()),
    ]);
    assert_eq!(
        out.code,
        Some(1),
        "an unknown CA must be refused: {}",
        out.stderr
    );
    let message = out.report.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.to_lowercase().contains("certificate"), "{message}");

    let out = run(&[("PGSSLMODE", "disable")]);
    assert_eq!(
        out.code,
        Some(2),
        "plain TCP is rejected by pg_hba: {}",
        out.stderr
    );
    let out = run(&[("PGSSLMODE", "verify-full")]);
    assert_eq!(
        out.code,
        Some(2),
        "verify-full without a root certificate is a config error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_over_https_is_trusted_through_the_ca_bundle() {
    let pg = TestPostgres::start().unwrap();
    let s3 = S3Server::seaweedfs_tls().unwrap();
    s3.create_bucket(common::BUCKET).await.unwrap();
    pg.psql(
        "postgres",
        "CREATE TABLE t AS SELECT g FROM generate_series(1, 3) g",
    )
    .unwrap();
    let ca = s3.tls_ca().unwrap().to_str().unwrap().to_string();
    assert!(s3.endpoint.starts_with("https://"));
    let run = |extra: &[(&str, &str)]| {
        let mut env = pg.env("postgres");
        env.extend(s3.runner_env(common::BUCKET));
        env.push(("TIDEMARK_POLICY_NAMESPACE".into(), "tls".into()));
        env.push(("TIDEMARK_POLICY_NAME".into(), "s3".into()));
        env.push((
            "TIDEMARK_PG_BIN_ROOT".into(),
            pg.bin_root().display().to_string(),
        ));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        RunnerCommand::new(Path::new(common::BIN), &["backup"], &env)
            .unwrap()
            .run()
            .unwrap()
    };
    let out = run(&[]);
    assert_ne!(
        out.code,
        Some(0),
        "an untrusted certificate must fail: {}",
        out.stdout
    );
    let out = run(&[("TIDEMARK_S3_CA_BUNDLE", &ca)]);
    assert_eq!(out.code, Some(0), "with the CA bundle: {}", out.stderr);
    let keys = tidemark_testkit::s3::list_keys(&s3.client(), common::BUCKET, "tls/s3/")
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "data, globals, manifest: {keys:?}");
    let out = run(&[("TIDEMARK_S3_CA_BUNDLE", "/nonexistent/ca.pem")]);
    assert_eq!(out.code, Some(2), "a missing CA bundle is a config error");
}
