//! Backups that succeed: what is stored restores to exactly the source, by the crate,
//! by hand with standard tools, on SeaweedFS and on moto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use tidemark_crd::contract::manifest::{CompressionTag, DumpFormatTag, RowCountModeTag};
use tidemark_testkit::s3::S3Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_zstd_backup_restores_to_identical_tables() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 20_000);
    let (identity, recipient) = age_keypair();
    let out = fx
        .backup(&[("TIDEMARK_AGE_RECIPIENTS", &recipient)])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let report = out.report.clone().expect("report line");
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(
        out.termination_log.trim(),
        out.stdout.lines().last().unwrap().trim()
    );
    let (data_key, manifest_key) = split_keys(&fx.keys().await);
    assert!(data_key.starts_with("tidemark/shop/webshop/"));
    assert!(data_key.ends_with(".dump.zst.age"), "{data_key}");
    assert_eq!(report["backup"]["key"], data_key.as_str());
    assert_eq!(report["backup"]["manifestKey"], manifest_key.as_str());
    assert!(fx.pending_uploads().await.is_empty());

    let stored = fx.download(&data_key).await;
    let manifest = fx.manifest(&manifest_key).await;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&stored));
    assert_eq!(manifest.sha256, sha);
    assert_eq!(manifest.stored_size, stored.len() as u64);
    assert_eq!(manifest.key, data_key);
    assert_eq!(manifest.policy_namespace, "shop");
    assert_eq!(manifest.compression, CompressionTag::Zstd);
    assert_eq!(manifest.compression_level, Some(3));
    assert_eq!(manifest.dump_format, DumpFormatTag::Custom);
    assert_eq!(manifest.row_count_mode, RowCountModeTag::Exact);
    assert_eq!(manifest.encryption_recipients, vec![recipient.clone()]);
    assert_eq!(manifest.database, SOURCE_DB);
    assert!(manifest.pg_dump_version.contains("pg_dump (PostgreSQL)"));
    assert!(manifest.completed_at >= manifest.started_at);

    // The data object carries the SHA-256 as a tag (no copy), the manifest in user
    // metadata; both have server-side encryption.
    assert_eq!(fx.sha256_tag(&data_key).await, Some(sha.clone()));
    let client = fx.s3.client();
    for key in [&data_key, &manifest_key] {
        let head = client
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        let meta = head.metadata().cloned().unwrap_or_default();
        if key == &manifest_key {
            assert_eq!(meta.get("sha256"), Some(&sha), "metadata of {key}");
        }
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("AES256"),
            "{key}"
        );
    }

    let raw = unzstd(&age_decrypt(&stored, &identity));
    assert_eq!(manifest.raw_size, raw.len() as u64);
    fx.pg_restore(&raw, "restored");
    let source = fx.pg.fingerprints(SOURCE_DB).unwrap();
    let restored = fx.pg.fingerprints("restored").unwrap();
    assert_eq!(restored, source, "restored contents differ");
    assert_eq!(manifest.tables, counts(&source));
    assert_eq!(manifest.tables["sales.orders"], 20_000);
    assert_eq!(manifest.tables["public.Audit Log"], 77);
    assert_eq!(report["backup"]["totalRows"], manifest.total_rows());
    assert_eq!(report["backup"]["tableCount"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restores_by_hand_with_age_zstd_and_pg_restore() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 5_000);
    let EncryptedBackup {
        identity, data_key, ..
    } = fx.encrypted_backup().await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.dump.zst.age");
    std::fs::write(&file, fx.download(&data_key).await).unwrap();
    let key_file = dir.path().join("identity.txt");
    std::fs::write(
        &key_file,
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&identity.to_string())
        ),
    )
    .unwrap();
    fx.pg.create_database("by_hand").unwrap();
    // age -d -i identity.txt backup.dump.zst.age | zstd -d | pg_restore -d by_hand
    let script = format!(
        "set -euo pipefail; age -d -i {} {} | zstd -d -q | {}/pg_restore --no-owner --exit-on-error -d by_hand",
        key_file.display(),
        file.display(),
        fx.pg.bin_dir().display()
    );
    let status = Command::new("bash")
        .args(["-c", &script])
        .envs(fx.pg.env("by_hand"))
        .status()
        .unwrap();
    assert!(status.success(), "manual restore failed");
    assert_eq!(
        fx.pg.fingerprints("by_hand").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_uncompressed_backup_spans_several_parts_and_restores_with_psql() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 60_000);
    let out = fx
        .backup(&[
            ("TIDEMARK_DUMP_FORMAT", "plain"),
            ("TIDEMARK_COMPRESSION", "none"),
            ("TIDEMARK_PART_SIZE", "5MiB"),
            ("TIDEMARK_PARTS_IN_FLIGHT", "2"),
            ("TIDEMARK_S3_SSE", "none"),
            // The SHA-256 in user metadata by a server-side copy, through the
            // multipart copy that objects over 5 GiB need.
            ("TIDEMARK_SHA256_STAMP", "copy"),
            ("TIDEMARK_S3_SINGLE_COPY_MAX", "1MiB"),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, manifest_key) = split_keys(&fx.keys().await);
    assert!(data_key.ends_with(".sql"), "{data_key}");
    let sql = fx.download(&data_key).await;
    assert!(
        sql.len() > 10 << 20,
        "want > 2 parts, got {} bytes",
        sql.len()
    );
    let manifest = fx.manifest(&manifest_key).await;
    assert_eq!(manifest.raw_size, sql.len() as u64);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sql));
    assert_eq!(manifest.sha256, sha);
    let head = fx
        .s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(&data_key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata().and_then(|m| m.get("sha256")), Some(&sha));
    assert!(fx.pending_uploads().await.is_empty());
    assert_eq!(manifest.stored_size, sql.len() as u64);
    fx.psql_restore(&sql, "from_plain");
    assert_eq!(
        fx.pg.fingerprints("from_plain").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_backup_with_filters_counts_only_dumped_tables() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx
        .backup(&[
            ("TIDEMARK_COMPRESSION", "gzip"),
            ("TIDEMARK_COMPRESSION_LEVEL", "9"),
            ("TIDEMARK_EXCLUDE_SCHEMAS", "sales"),
            ("TIDEMARK_EXCLUDE_TABLES", "empty_*"),
            ("TIDEMARK_ROW_COUNT_MODE", "estimate"),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, manifest_key) = split_keys(&fx.keys().await);
    assert!(data_key.ends_with(".dump.gz"), "{data_key}");
    let manifest = fx.manifest(&manifest_key).await;
    assert_eq!(manifest.row_count_mode, RowCountModeTag::Estimate);
    let tables: Vec<&str> = manifest.tables.keys().map(String::as_str).collect();
    assert_eq!(tables, vec!["public.Audit Log", "public.customers"]);
    assert_eq!(
        manifest.tables["public.customers"], 500,
        "estimate after ANALYZE"
    );

    let stored = fx.download(&data_key).await;
    let mut gz = flate2::read::GzDecoder::new(&stored[..]);
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut gz, &mut raw).unwrap();
    fx.pg_restore(&raw, "filtered");
    let restored = fx.pg.fingerprints("filtered").unwrap();
    let names: Vec<&str> = restored.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["public.Audit Log", "public.customers"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_match_the_dump_while_writes_continue() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 150_000);
    let writer_env = fx.pg.env(SOURCE_DB);
    let psql = fx.pg.bin_dir().join("psql");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_writer = stop.clone();
    // Many small committed transactions in both big and small tables, all the time.
    let writer = std::thread::spawn(move || {
        let mut child = Command::new(psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .envs(writer_env)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut batches = 0u32;
        while !stop_writer.load(std::sync::atomic::Ordering::Relaxed) {
            writeln!(
                stdin,
                "INSERT INTO sales.orders (customer_id, total, note) SELECT 1, 1, 'live' FROM generate_series(1, 50);\n\
                 INSERT INTO public.\"Audit Log\" VALUES ({batches}, 'live');\n\
                 DELETE FROM public.customers WHERE id = (SELECT max(id) FROM public.customers WHERE id NOT IN (SELECT customer_id FROM sales.orders WHERE customer_id IS NOT NULL));"
            )
            .unwrap();
            batches += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        drop(stdin);
        child.wait().unwrap();
        batches
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = fx
        .backup(&[("TIDEMARK_COMPRESSION_LEVEL", "19")])
        .run()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let batches = writer.join().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        batches > 10,
        "the writer must have run during the dump ({batches} batches)"
    );

    let (data_key, manifest_key) = split_keys(&fx.keys().await);
    let manifest = fx.manifest(&manifest_key).await;
    fx.pg_restore(&unzstd(&fx.download(&data_key).await), "snapshot");
    let restored = counts(&fx.pg.fingerprints("snapshot").unwrap());
    assert_eq!(
        manifest.tables, restored,
        "manifest counts must be what the dump holds"
    );
    let now = counts(&fx.pg.fingerprints(SOURCE_DB).unwrap());
    assert!(
        now["sales.orders"] > manifest.tables["sales.orders"],
        "writes after the snapshot are not in the dump"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_round_trips_through_moto_with_sigv4() {
    let fx = Fixture::with(S3Server::moto().expect("start moto")).await;
    seed(&fx.pg, 1_000);
    let (identity, recipient) = age_keypair();
    let out = fx
        .backup(&[
            ("TIDEMARK_AGE_RECIPIENTS", &recipient),
            ("TIDEMARK_S3_STORAGE_CLASS", "STANDARD_IA"),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, manifest_key) = split_keys(&fx.keys().await);
    let manifest = fx.manifest(&manifest_key).await;
    let head = fx
        .s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(&data_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.storage_class().map(|s| s.as_str()),
        Some("STANDARD_IA")
    );
    assert_eq!(
        fx.sha256_tag(&data_key).await,
        Some(manifest.sha256.clone())
    );
    let stored = fx.download(&data_key).await;
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&stored)),
        manifest.sha256
    );
    let raw = unzstd(&age_decrypt(&stored, &identity));
    fx.pg_restore(&raw, "from_moto");
    assert_eq!(
        fx.pg.fingerprints("from_moto").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );

    // SigV4 really is enforced: a wrong secret is refused.
    let out = fx
        .backup(&[("AWS_SECRET_ACCESS_KEY", "not-the-moto-secret")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
}
