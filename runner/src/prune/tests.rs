//! Prune carried out against the in-memory store: what retention keeps survives, the
//! newest good backup always does, broken backups are reported and left alone, and
//! nothing outside the policy prefix is touched.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tidemark_crd::contract::keys;

use super::*;
use crate::inventory::fixtures::{PREFIX, at, backup};
use crate::retention::RetentionPolicy;
use crate::s3::memory::MemoryStore;

fn rules(policy: RetentionPolicy) -> Rules {
    Rules {
        policy,
        tz: chrono_tz::UTC,
        grace: Duration::from_secs(3600),
        now: at(8, 0),
    }
}

fn hourly(n: u32) -> RetentionPolicy {
    RetentionPolicy {
        hourly: n,
        ..RetentionPolicy::default()
    }
}

/// Six good hourly backups (0:00 to 5:00), a newer broken one (6:00, data missing),
/// an old and a young orphan, a stale and a fresh upload, and neighbours outside the
/// policy's children.
struct Bucket {
    memory: MemoryStore,
    good: Vec<String>,
    broken: String,
    outside: Vec<String>,
}

fn bucket() -> Bucket {
    let memory = MemoryStore::new("bucket");
    let good = (0..6)
        .map(|h| backup(&memory, at(h, 0), Some(100)))
        .collect();
    let broken = backup(&memory, at(6, 0), None);
    memory.insert(
        "b/shop/web/20260301T023000Z.dump.zst",
        vec![0u8; 7],
        at(2, 30),
    );
    memory.insert(
        "b/shop/web/20260301T074500Z.dump.zst",
        vec![0u8; 7],
        at(7, 45),
    );
    memory.insert_upload("b/shop/web/20260301T010000Z.dump.zst", at(1, 0));
    memory.insert_upload("b/shop/web/20260301T075000Z.dump.zst", at(7, 50));
    let outside = vec![
        "b/shop/webshop/20260301T000000Z.dump.zst".to_string(),
        "b/shop/web/old/20260301T000000Z.dump.zst".to_string(),
    ];
    for key in &outside {
        memory.insert(key, vec![0u8; 7], at(0, 0));
    }
    Bucket {
        memory,
        good,
        broken,
        outside,
    }
}

fn prefix() -> PolicyPrefix {
    PolicyPrefix::new(PREFIX).unwrap()
}

fn prune_result(outcome: Outcome) -> PruneResult {
    match outcome {
        Ok(Payload::Prune(r)) => r,
        Ok(_) => panic!("not a prune result"),
        Err(f) => panic!("prune failed: {}", f.error),
    }
}

#[tokio::test]
async fn retention_deletes_what_no_tier_keeps_and_leaves_broken_backups_and_neighbours() {
    let b = bucket();
    let outcome = retain(
        &b.memory,
        &prefix(),
        &rules(hourly(2)),
        false,
        &Shutdown::never(),
    )
    .await;
    let result = prune_result(outcome);
    let present = |k: &str| b.memory.object(k).is_some();
    // The two newest good backups stay, whole; the four older ones are gone, whole.
    for key in &b.good[4..] {
        assert!(present(key) && present(&keys::manifest_key(key)), "{key}");
    }
    for key in &b.good[..4] {
        assert!(!present(key) && !present(&keys::manifest_key(key)), "{key}");
    }
    assert_eq!(result.deleted_count, 4);
    // The broken backup (newer than all) is reported, not deleted, not counted as kept.
    assert!(present(&keys::manifest_key(&b.broken)));
    assert_eq!(result.broken, vec![keys::manifest_key(&b.broken)]);
    assert_eq!(result.kept_count, 2);
    // The old orphan and the stale upload went; the young ones stay.
    assert!(!present("b/shop/web/20260301T023000Z.dump.zst"));
    assert!(present("b/shop/web/20260301T074500Z.dump.zst"));
    assert_eq!((result.orphans_deleted, result.uploads_aborted), (1, 1));
    assert_eq!(b.memory.open_uploads(), 1);
    for key in &b.outside {
        assert!(present(key), "{key} is outside the policy's children");
    }
}

#[tokio::test]
async fn the_newest_good_backup_survives_whatever_the_tiers_and_a_broken_newer_one() {
    let b = bucket();
    // One hourly slot: the newest hour with a manifest is the broken backup's.
    let result = prune_result(
        retain(
            &b.memory,
            &prefix(),
            &rules(hourly(1)),
            false,
            &Shutdown::never(),
        )
        .await,
    );
    let newest = b.good.last().unwrap();
    assert!(b.memory.object(newest).is_some());
    assert!(b.memory.object(&keys::manifest_key(newest)).is_some());
    assert_eq!(result.kept_count, 1);
    assert_eq!(result.kept.len(), 1);
    assert!(newest.contains(&result.kept[0].stamp), "{:?}", result.kept);
    let inventory = Inventory::load(&b.memory, PREFIX).await.unwrap();
    assert_eq!(inventory.newest().unwrap().key, *newest);
    assert_eq!(inventory.broken().len(), 1);
}

#[tokio::test]
async fn a_dry_run_deletes_nothing_and_reports_what_it_would() {
    let b = bucket();
    let before = b.memory.keys();
    let result = prune_result(
        retain(
            &b.memory,
            &prefix(),
            &rules(hourly(2)),
            true,
            &Shutdown::never(),
        )
        .await,
    );
    assert!(result.dry_run);
    assert_eq!(result.deleted_count, 4);
    assert_eq!(b.memory.keys(), before);
    assert_eq!(b.memory.open_uploads(), 2);
}

#[tokio::test]
async fn a_failing_delete_stops_the_run_without_leaving_a_backup_without_data() {
    for after in 0..8 {
        let b = bucket();
        b.memory.fail("DeleteObject", after);
        let outcome = retain(
            &b.memory,
            &prefix(),
            &rules(hourly(2)),
            false,
            &Shutdown::never(),
        )
        .await;
        let Err(failure) = outcome else {
            panic!("the injected failure after {after} deletions was not reported");
        };
        assert_eq!(failure.error.reason(), "S3Failed");
        assert!(matches!(failure.partial, Some(Payload::Prune(_))));
        // Manifests go first: whatever was done, every listed backup still has its data.
        let inventory = Inventory::load(&b.memory, PREFIX).await.unwrap();
        assert_eq!(
            inventory
                .broken()
                .iter()
                .map(|x| x.entry.key.clone())
                .collect::<Vec<_>>(),
            vec![b.broken.clone()],
            "after {after} deletions"
        );
        assert!(inventory.entries().len() >= 2);
    }
}

#[tokio::test]
async fn prune_all_empties_the_prefix_and_nothing_else() {
    let b = bucket();
    let result = prune_result(all(&b.memory, &prefix(), false, &Shutdown::never()).await);
    assert_eq!(
        result.deleted_count, 7,
        "six good backups and the broken one"
    );
    let left = b.memory.keys();
    assert_eq!(left, {
        let mut o = b.outside.clone();
        o.sort();
        o.retain(|k| !k.starts_with(PREFIX));
        o
    });
    assert_eq!(b.memory.open_uploads(), 0);
}
