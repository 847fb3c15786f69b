//! Restores that must fail without changing the target: a corrupted object (the
//! checksum gate), a truncated one, wrong or missing age identities. Secrets never
//! appear in the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use age::secrecy::ExposeSecret;
use common::*;
use tidemark_testkit::postgres::PASSWORD;
use tidemark_testkit::runner::RunnerOutput;

fn assert_no_secrets(out: &RunnerOutput, secrets: &[&str]) {
    for s in secrets {
        assert!(!out.stdout.contains(s), "secret in stdout");
        assert!(!out.stderr.contains(s), "secret in stderr");
        assert!(!out.termination_log.contains(s), "secret in the report");
    }
}

async fn overwrite(fx: &Fixture, key: &str, body: Vec<u8>) {
    fx.s3
        .client()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// Restores the good backup into `target` and adds a sentinel row to a table the
/// backup holds (a committed clean restore would drop it).
fn target_with_sentinel(fx: &Fixture, extra: &[(&str, &str)]) {
    let mut env = vec![("TIDEMARK_CREATE_DATABASE", "true")];
    env.extend_from_slice(extra);
    let out = fx.restore_run("restore", "target", &env).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    fx.pg
        .psql(
            "target",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel')",
        )
        .unwrap();
}

fn sentinel(fx: &Fixture) -> String {
    fx.pg
        .psql(
            "target",
            "SELECT name FROM public.customers WHERE id = 999999",
        )
        .unwrap()
}

/// Flips one hex digit (inside a run of hex digits: md5 text or bytea) at or after
/// `from`, so the dump still parses and only the checksum can tell.
fn flip_hex_digit(data: &mut [u8], from: usize) -> usize {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let pos = (from..data.len() - 8)
        .find(|&i| data[i..i + 8].iter().all(|&b| hex(b)))
        .expect("a run of hex digits");
    data[pos] = if data[pos] == b'a' { b'b' } else { b'a' };
    pos
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_flipped_in_the_last_part_is_caught_by_the_gate_and_rolled_back() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 60_000);
    let out = fx
        .backup(&[
            ("TIDEMARK_COMPRESSION", "none"),
            ("TIDEMARK_PART_SIZE", "5MiB"),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, _) = split_keys(&fx.keys().await);
    target_with_sentinel(&fx, &[]);
    let before = fx.pg.fingerprints("target").unwrap();

    let mut stored = fx.download(&data_key).await;
    let len = stored.len();
    assert!(len > 10 << 20, "a multi-MiB object of several parts: {len}");
    let last_part_start = (len / (5 << 20)) * (5 << 20);
    // In the last part, but well before the held-back end (1 MiB): pg_restore reads
    // and loads the corrupted row before the end of the stream arrives.
    let pos = flip_hex_digit(&mut stored, len - (3 << 19));
    assert!(
        pos >= last_part_start && pos < len - (1 << 20),
        "{pos} of {len}"
    );
    overwrite(&fx, &data_key, stored).await;

    let out = fx
        .restore_run("restore", "target", &[("RUST_LOG", "info")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    // Not a parse error of pg_restore: the data was accepted; only the SHA-256 over the
    // whole object, checked at its end, stopped the commit.
    assert_eq!(report["error"]["reason"], "ChecksumMismatch", "{report}");
    assert_eq!(report["error"]["kind"], "check");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SHA-256")
    );
    assert_eq!(report["restore"]["key"], data_key.as_str());
    assert!(out.stderr.contains("restore stream started"));
    assert!(
        !out.stderr.contains("end of stream released"),
        "never released"
    );
    assert_eq!(sentinel(&fx), "sentinel");
    assert_eq!(fx.pg.fingerprints("target").unwrap(), before);
    // No session of the killed pg_restore is left behind.
    let left = fx
        .pg
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'tidemark-restore-%'",
        )
        .unwrap();
    assert_eq!(left, "0");

    // The SQL route: a selected table's data comes early in the archive, so
    // `pg_restore -f -` finishes long before the end; psql's input is still held, so
    // its TRUNCATE and the restored rows roll back.
    fx.pg
        .psql("target", "DELETE FROM public.\"Audit Log\" WHERE id > 5")
        .unwrap();
    let damaged = fx.pg.fingerprints("target").unwrap();
    let out = fx
        .restore_run(
            "restore",
            "target",
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TABLES", "public.Audit Log"),
                ("TIDEMARK_RESTORE_TRUNCATE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["error"]["reason"], "ChecksumMismatch");
    assert_eq!(fx.pg.fingerprints("target").unwrap(), damaged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_encrypted_object_fails_on_the_checksum_and_a_wrong_identity_is_a_config_error() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 5_000);
    let EncryptedBackup {
        identity,
        recipient,
        data_key,
        ..
    } = fx.encrypted_backup().await;
    let good = identity.to_string();
    let good = good.expose_secret();
    let aws_secret = fx
        .s3
        .runner_env(BUCKET)
        .into_iter()
        .find(|(k, _)| k == "AWS_SECRET_ACCESS_KEY")
        .unwrap()
        .1;
    target_with_sentinel(&fx, &[("TIDEMARK_AGE_IDENTITY", good)]);
    let before = fx.pg.fingerprints("target").unwrap();

    // A valid identity that is not a recipient.
    let (other, _) = age_keypair();
    let wrong = other.to_string();
    let wrong = wrong.expose_secret();
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_AGE_IDENTITY", wrong)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let report = out.report.clone().unwrap();
    assert_eq!(report["error"]["kind"], "config");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("TIDEMARK_AGE_IDENTITY"), "{message}");
    assert!(message.contains("does not match"), "{message}");
    assert_no_secrets(&out, &[wrong, good, PASSWORD, &aws_secret]);

    // Not an identity at all: named, not shown.
    let garbage = "AGE-SECRET-KEY-1THISISNOTAKEYBUTLOOKSSECRET";
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_AGE_IDENTITY", garbage)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert!(out.termination_log.contains("TIDEMARK_AGE_IDENTITY"));
    assert_no_secrets(&out, &[garbage, "THISISNOTAKEY"]);

    // None at all: the error names the variable and the recipients.
    let out = fx.restore_run("restore", "target", &[]).run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert!(out.termination_log.contains(&recipient));

    // A flipped byte in the middle: age's authentication fails on that chunk; the rest
    // is hashed and the report names the real cause.
    let mut stored = fx.download(&data_key).await;
    let mid = stored.len() / 2;
    stored[mid] ^= 0x01;
    overwrite(&fx, &data_key, stored).await;
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_AGE_IDENTITY", good)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert_eq!(
        out.report.clone().unwrap()["error"]["reason"],
        "ChecksumMismatch"
    );
    assert_no_secrets(&out, &[good, PASSWORD, &aws_secret]);
    assert_eq!(sentinel(&fx), "sentinel");
    assert_eq!(fx.pg.fingerprints("target").unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_object_is_refused_before_anything_runs() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, _) = split_keys(&fx.keys().await);
    target_with_sentinel(&fx, &[]);
    let mut stored = fx.download(&data_key).await;
    stored.truncate(stored.len() - 100);
    overwrite(&fx, &data_key, stored).await;
    // A data object of another size than its manifest says is a broken backup: never
    // the latest, and refused by name.
    let out = fx.restore_run("restore", "target", &[]).run().unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "NoBackupFound");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 broken"),
        "{report}"
    );
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_BACKUP_KEY", &data_key)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["error"]["reason"], "BackupIncomplete");
    assert!(!out.stderr.contains("restore stream started"));
    assert_eq!(sentinel(&fx), "sentinel");
}
