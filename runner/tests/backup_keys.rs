//! Keys and parts of the upload, on real PostgreSQL and a real S3 server: runs of one
//! policy started together never overwrite each other (the key claim is atomic), and
//! all parts but the last of one upload have the same size (R2 requires it). How the
//! size is chosen from the previous backups is `pipeline::part_size`'s unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use sha2::{Digest, Sha256};
use tidemark_crd::contract::keys::manifest_key;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_backups_started_together_get_five_keys_and_all_restore() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 300);
    let children: Vec<_> = (0..5).map(|_| fx.backup(&[]).spawn().unwrap()).collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|(child, cmd)| cmd.wait(child).unwrap())
        .collect();
    let mut reported = BTreeSet::new();
    for out in &outs {
        assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
        let report = out.report.as_ref().unwrap();
        reported.insert(report["backup"]["key"].as_str().unwrap().to_string());
    }
    assert_eq!(reported.len(), 5, "{reported:?}");
    let keys = fx.keys().await;
    // Five data objects, their globals and five manifests, nothing else (the claims
    // are gone).
    assert_eq!(keys.len(), 15, "{keys:?}");
    for (i, key) in reported.iter().enumerate() {
        assert!(keys.contains(&manifest_key(key)), "{key}: {keys:?}");
        let manifest = fx.manifest(&manifest_key(key)).await;
        let data = fx.download(key).await;
        assert_eq!(manifest.sha256, hex::encode(Sha256::digest(&data)), "{key}");
        assert_eq!(manifest.stored_size, data.len() as u64);
        let target = format!("copy{i}");
        fx.pg_restore(&unzstd(&data), &target);
        let n = fx
            .pg
            .psql(&target, "SELECT count(*) FROM sales.orders")
            .unwrap();
        assert_eq!(n.trim(), "300");
    }
}

/// The sizes of the parts of `key`, by HeadObject with a part number.
async fn part_sizes(fx: &Fixture, key: &str) -> Vec<i64> {
    let client = fx.s3.client();
    let first = client
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .part_number(1)
        .send()
        .await
        .unwrap();
    let count = first.parts_count().unwrap_or(1);
    let mut sizes = vec![first.content_length().unwrap()];
    for n in 2..=count {
        let head = client
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .part_number(n)
            .send()
            .await
            .unwrap();
        sizes.push(head.content_length().unwrap());
    }
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_parts_but_the_last_have_the_same_size() {
    let fx = Fixture::seaweed().await;
    // About 14 MiB of incompressible rows.
    fx.pg
        .psql(
            SOURCE_DB,
            "CREATE TABLE noise AS SELECT g, decode(string_agg(md5(g::text || '-' || i::text), ''), 'hex') AS b \
             FROM generate_series(1, 7000) g, generate_series(1, 128) i GROUP BY g",
        )
        .unwrap();
    let small = [
        ("TIDEMARK_PART_SIZE", "5MiB"),
        ("TIDEMARK_COMPRESSION", "none"),
    ];
    let out = fx.backup(&small).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let first = out.report.unwrap()["backup"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let sizes = part_sizes(&fx, &first).await;
    assert!(sizes.len() >= 3, "{sizes:?}");
    let (last, rest) = sizes.split_last().unwrap();
    assert!(rest.iter().all(|s| *s == 5 << 20), "{sizes:?}");
    assert!(*last <= 5 << 20);
}
