//! The report stays under the Kubernetes termination-message limit however many
//! tables the database has; the manifest still lists them all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tidemark_crd::contract::result::MAX_REPORT_BYTES;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_fits_four_kib_with_a_thousand_tables() {
    let fx = Fixture::seaweed().await;
    fx.pg
        .psql(
            SOURCE_DB,
            "DO $$ BEGIN FOR i IN 1..1000 LOOP \
               EXECUTE format('CREATE TABLE public.%I (id int, v text)', \
                 'table_with_a_rather_long_descriptive_name_' || i); \
               EXECUTE format('INSERT INTO public.%I SELECT g, md5(g::text) FROM generate_series(1, %s) g', \
                 'table_with_a_rather_long_descriptive_name_' || i, i % 7); \
             END LOOP; END $$",
        )
        .unwrap();
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let line = out.stdout.lines().last().unwrap();
    assert!(
        line.len() < MAX_REPORT_BYTES,
        "report is {} bytes",
        line.len()
    );
    assert!(out.termination_log.len() < MAX_REPORT_BYTES);
    let report = out.report.unwrap();
    assert_eq!(report["backup"]["tableCount"], 1000);
    let expected_rows: i64 = (1..=1000).map(|i| i % 7).sum();
    assert_eq!(report["backup"]["totalRows"], expected_rows);
    let manifest = fx
        .manifest(report["backup"]["manifestKey"].as_str().unwrap())
        .await;
    assert_eq!(manifest.tables.len(), 1000);
    assert_eq!(
        manifest.tables["public.table_with_a_rather_long_descriptive_name_13"],
        6
    );
}

/// Keys have one-second resolution: a backup never overwrites one that already has its
/// key (a runNow right after a scheduled run); it waits for a free second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_overwrites_an_existing_key() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 100);
    // Occupy the keys of this second and the next three, as earlier backups would.
    let now = chrono::Utc::now();
    let mut planted = Vec::new();
    for s in 0..4 {
        let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%dT%H%M%SZ");
        let key = format!("tidemark/shop/webshop/{stamp}.dump.zst");
        put_object(&fx.s3, &key, format!("earlier backup {s}").into_bytes()).await;
        planted.push(key);
    }
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    let key = report["backup"]["key"].as_str().unwrap().to_string();
    assert!(!planted.contains(&key), "{key} overwrote an earlier backup");
    for (s, planted) in planted.iter().enumerate() {
        assert_eq!(
            fx.download(planted).await,
            format!("earlier backup {s}").into_bytes(),
            "{planted} changed"
        );
    }
    assert_eq!(fx.manifest(&format!("{key}.manifest.json")).await.key, key);
}
