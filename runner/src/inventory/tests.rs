//! The inventory read from the in-memory store: which manifests are backups, which are
//! broken, which are skipped, and what a selector picks.

#![allow(clippy::unwrap_used)]

use tidemark_crd::contract::keys;

use super::fixtures::{PREFIX, at, backup, key};
use super::*;
use crate::s3::memory::MemoryStore;

#[tokio::test]
async fn only_complete_backups_directly_under_the_prefix_count_and_broken_ones_are_reported() {
    let memory = MemoryStore::new("bucket");
    let a = backup(&memory, at(1, 0), Some(100));
    let b = backup(&memory, at(2, 0), Some(100));
    let missing = backup(&memory, at(3, 0), None);
    let short = backup(&memory, at(4, 0), Some(50));
    // Not backups of this policy: a neighbour whose name starts alike, a deeper key.
    memory.insert(
        &keys::manifest_key("b/shop/webshop/20260301T050000Z.dump.zst"),
        b"{}".to_vec(),
        at(5, 0),
    );
    memory.insert(
        "b/shop/web/old/x.dump.zst.manifest.json",
        b"{}".to_vec(),
        at(5, 0),
    );
    // A manifest that is no manifest, beside its data.
    let garbage = key(at(6, 0));
    memory.insert(&garbage, vec![1u8; 100], at(6, 10));
    memory.insert(
        &keys::manifest_key(&garbage),
        b"not json".to_vec(),
        at(6, 10),
    );

    let scan = Inventory::scan(&memory, PREFIX).await.unwrap();
    let inventory = &scan.inventory;
    let keys_of = |entries: &[Entry]| entries.iter().map(|e| e.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys_of(inventory.entries()), vec![a.clone(), b.clone()]);
    let broken: Vec<(&str, &str)> = inventory
        .broken()
        .iter()
        .map(|x| (x.entry.key.as_str(), x.why.as_str()))
        .collect();
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert_eq!(broken[0].0, missing);
    assert!(broken[0].1.contains("is missing"), "{broken:?}");
    assert_eq!(broken[1].0, short);
    assert!(broken[1].1.contains("has 50 bytes"), "{broken:?}");
    assert_eq!(scan.skipped_manifests, vec![keys::manifest_key(&garbage)]);

    // The newest *good* backup is the latest; a broken one is never selected.
    assert_eq!(inventory.select(&Selector::Latest).unwrap().key, b);
    assert_eq!(inventory.newest().unwrap().key, b);
    let err = inventory.select(&Selector::Key(short.clone())).unwrap_err();
    assert_eq!(err.reason(), "BackupIncomplete", "{err}");
    assert_eq!(
        inventory.select(&Selector::Before(at(2, 5))).unwrap().key,
        a
    );
    let err = inventory.select(&Selector::Before(at(1, 5))).unwrap_err();
    assert_eq!(err.reason(), "NoBackupFound", "{err}");
    // Verify's view includes the broken ones.
    assert_eq!(inventory.including_broken().entries().len(), 4);
}

#[tokio::test]
async fn a_failing_listing_fails_the_load_with_its_s3_error() {
    let memory = MemoryStore::new("bucket");
    backup(&memory, at(1, 0), Some(100));
    memory.fail("ListObjectsV2", 0);
    let err = Inventory::load(&memory, PREFIX).await.unwrap_err();
    assert_eq!(err.reason(), "S3Failed", "{err}");
    assert!(err.to_string().contains("ListObjectsV2"), "{err}");
    // A manifest that cannot be read is an error too, not a missing backup.
    memory.fail("GetObject", 0);
    let err = Inventory::load(&memory, PREFIX).await.unwrap_err();
    assert_eq!(err.reason(), "S3Failed", "{err}");
}

#[tokio::test]
async fn a_whole_bucket_prefix_is_refused() {
    let memory = MemoryStore::new("bucket");
    let err = Inventory::load(&memory, "").await.unwrap_err();
    assert_eq!(err.reason(), "InvalidConfig", "{err}");
}
