//! The globals object on real servers (PostgreSQL + SeaweedFS): a backup stores the
//! roles and database settings beside its dump, compressed and encrypted like it, with
//! server-side encryption, storage class and SHA-256; verify checks it; a backup whose
//! globals object is missing is broken (listed as such, never the newest); prune deletes
//! it with its backup and the orphan sweep keeps a kept backup's globals while it
//! removes the globals object of a failed backup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use tidemark_crd::contract::keys::{backup_key_of_globals, globals_key, manifest_key};
use tidemark_crd::contract::manifest::{CompressionTag, PasswordsTag};

/// Application roles in the source: `app_owner` owns the database and its table,
/// `reporting` has a grant, `unrelated` has nothing to do with it.
pub fn setup_roles(pg: &tidemark_testkit::postgres::TestPostgres) {
    pg.psql(
        "postgres",
        "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw'; \
         CREATE ROLE reporting NOLOGIN; \
         CREATE ROLE unrelated LOGIN; \
         ALTER DATABASE shop OWNER TO app_owner; \
         ALTER DATABASE shop SET work_mem TO '12MB'",
    )
    .unwrap();
    pg.psql(
        SOURCE_DB,
        "SET ROLE app_owner; \
         CREATE TABLE orders (id int PRIMARY KEY, total numeric); \
         INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 50) g; \
         GRANT SELECT ON orders TO reporting",
    )
    .unwrap();
}

fn data_keys(keys: &[String]) -> Vec<String> {
    let mut v: Vec<String> = keys
        .iter()
        .filter(|k| !k.ends_with(".manifest.json") && backup_key_of_globals(k).is_none())
        .cloned()
        .collect();
    v.sort();
    v
}

fn failed_checks(report: &Value) -> Vec<(String, String)> {
    report["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_are_stored_verified_listed_and_pruned_with_their_backup() {
    let started = std::time::Instant::now();
    let fx = Fixture::seaweed().await;
    setup_roles(&fx.pg);
    let (identity, recipient) = age_keypair();
    let enc = [
        ("TIDEMARK_AGE_RECIPIENTS", recipient.as_str()),
        ("TIDEMARK_S3_STORAGE_CLASS", "STANDARD_IA"),
    ];

    // 1. The first backup: data, globals, manifest.
    let out = fx.backup(&enc).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (first, first_manifest) = split_keys(&fx.keys().await);
    let manifest = fx.manifest(&first_manifest).await;
    let g = manifest.globals.clone().expect("manifest.globals");
    assert_eq!(g.key, globals_key(&first, CompressionTag::Zstd, true));
    assert!(g.key.ends_with(".globals.sql.zst.age"), "{}", g.key);
    let stored = fx.download(&g.key).await;
    assert_eq!(g.stored_size, stored.len() as u64);
    assert_eq!(
        g.sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&stored))
    );
    assert_eq!(
        g.passwords,
        PasswordsTag::Included,
        "the superuser reads pg_authid"
    );
    assert_eq!(g.roles, vec!["app_owner", "reporting"]);
    let script = String::from_utf8(unzstd(&age_decrypt(&stored, &identity))).unwrap();
    assert_eq!(g.raw_size, script.len() as u64);
    assert!(script.contains("CREATE ROLE app_owner"), "{script}");
    assert!(script.contains("SCRAM-SHA-256$"), "password hash");
    assert!(!script.contains("owner-pw"));
    assert!(!script.contains("unrelated"));
    assert!(script.contains("work_mem"), "database setting: {script}");
    let head = fx
        .s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(&g.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(
        head.storage_class().map(|s| s.as_str()),
        Some("STANDARD_IA")
    );
    assert_eq!(
        head.metadata().and_then(|m| m.get("sha256")),
        Some(&g.sha256)
    );

    // verify passes and says it checked the globals object.
    let verify = || policy_run(&fx.s3, "verify", "webshop", &[]).run().unwrap();
    let out = verify();
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);
    let text = out.report.unwrap().to_string();
    assert!(text.contains("globals object"), "{text}");

    // 2. A second backup; its globals object is damaged (same size), then deleted.
    let out = fx.backup(&enc).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let keys = fx.keys().await;
    let second = data_keys(&keys).pop().unwrap();
    assert_ne!(second, first);
    let second_globals = fx.manifest(&manifest_key(&second)).await.globals.unwrap();
    let mut damaged = fx.download(&second_globals.key).await;
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    put_object(&fx.s3, &second_globals.key, damaged).await;
    let out = verify();
    assert_eq!(out.code, Some(3), "stdout: {}", out.stdout);
    let failed = failed_checks(out.report.as_ref().unwrap());
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "ChecksumMatches");
    assert!(failed[0].1.contains("globals object"), "{failed:?}");

    fx.s3
        .client()
        .delete_object()
        .bucket(BUCKET)
        .key(&second_globals.key)
        .send()
        .await
        .unwrap();
    let out = verify();
    assert_eq!(out.code, Some(3), "stdout: {}", out.stdout);
    let failed = failed_checks(out.report.as_ref().unwrap());
    assert_eq!(failed[0].0, "ObjectPresent", "{failed:?}");
    assert!(failed[0].1.contains("does not exist"), "{failed:?}");

    // list: the second backup is broken, the first is the newest.
    let out = policy_run(
        &fx.s3,
        "list",
        "webshop",
        &[("TIDEMARK_LIST_OUTPUT", "json")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "stdout: {}", out.stdout);
    let report = out.report.clone().unwrap();
    assert_eq!(
        report["list"]["selected"]["key"],
        first.as_str(),
        "{report}"
    );
    assert_eq!(report["list"]["brokenCount"], 1, "{report}");
    let rows: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    let row = |k: &str| rows.iter().find(|r| r["key"] == k).unwrap().clone();
    assert_eq!(row(&first)["globals"]["key"], g.key.as_str());
    assert_eq!(row(&first)["globals"]["passwords"], "included");
    let broken = row(&second)["broken"].as_str().unwrap().to_string();
    assert!(broken.contains("globals object"), "{broken}");
    let table = policy_run(&fx.s3, "list", "webshop", &[]).run().unwrap();
    assert!(table.stdout.contains("GLOBALS"), "{}", table.stdout);
    assert!(table.stdout.contains("2 roles"), "{}", table.stdout);

    // 3. A third backup; a leftover globals object of a failed backup (no manifest).
    let out = fx.backup(&enc).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let third = data_keys(&fx.keys().await).pop().unwrap();
    let third_globals = fx.manifest(&manifest_key(&third)).await.globals.unwrap();
    let failed_data = synthetic_key("webshop", chrono::Utc::now() - chrono::TimeDelta::hours(1));
    let leftover = globals_key(&failed_data, CompressionTag::Zstd, true);
    put_object(&fx.s3, &leftover, vec![1; 100]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    // prune keeping one backup a day: the first goes with its globals object, the
    // broken second stays (never deleted), the third keeps its globals object, and the
    // leftover globals object is swept.
    let out = policy_run(
        &fx.s3,
        "prune",
        "webshop",
        &[
            ("TIDEMARK_KEEP_DAILY", "1"),
            ("TIDEMARK_ORPHAN_GRACE_PERIOD", "1s"),
        ],
    )
    .run()
    .unwrap();
    assert_eq!(
        out.code,
        Some(0),
        "stdout: {} stderr: {}",
        out.stdout,
        out.stderr
    );
    let keys = fx.keys().await;
    for gone in [&first, &first_manifest, &g.key, &leftover] {
        assert!(!keys.contains(gone), "{gone} still there: {keys:?}");
    }
    for kept in [
        &third,
        &manifest_key(&third),
        &third_globals.key,
        &second,
        &manifest_key(&second),
    ] {
        assert!(keys.contains(kept), "{kept} gone: {keys:?}");
    }
    eprintln!("globals object test: {:?}", started.elapsed());
}
