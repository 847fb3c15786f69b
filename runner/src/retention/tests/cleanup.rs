//! Orphan objects, broken backups and stale multipart uploads.

use std::collections::BTreeSet;
use std::time::Duration;

use super::super::{
    MultipartUpload, OrphanReport, PolicyPrefix, PrefixError, StoredObject, find_orphans,
    stale_uploads,
};
use super::at;

const HOUR: Duration = Duration::from_secs(3600);

fn object(key: &str, last_modified: &str) -> StoredObject {
    StoredObject {
        key: key.to_owned(),
        last_modified: at(last_modified),
    }
}

fn prefix() -> PolicyPrefix {
    PolicyPrefix::for_policy("/backups/", "shop", "webshop").expect("valid prefix")
}

fn strings(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[test]
fn policy_prefix_always_ends_in_a_slash() {
    assert_eq!(prefix().as_str(), "backups/shop/webshop/");
    assert_eq!(
        PolicyPrefix::new("backups/shop/webshop").map(|p| p.to_string()),
        Ok("backups/shop/webshop/".to_owned())
    );
    assert_eq!(
        PolicyPrefix::for_policy("", "shop", "webshop").map(|p| p.to_string()),
        Ok("shop/webshop/".to_owned())
    );
    assert_eq!(PolicyPrefix::new(""), Err(PrefixError::Empty));
    assert_eq!(PolicyPrefix::new("/"), Err(PrefixError::Empty));
    assert!(PolicyPrefix::new("a//b/").is_err());
    assert!(PolicyPrefix::for_policy("b", "", "p").is_err());
    assert!(PolicyPrefix::for_policy("b", "ns", "p/q").is_err());
}

#[test]
fn neighbouring_policy_and_deeper_keys_are_not_children() {
    let p = prefix();
    assert!(p.contains("backups/shop/webshop/20260101T000000Z.dump"));
    assert!(!p.contains("backups/shop/webshop-2/20260101T000000Z.dump"));
    assert!(!p.contains("backups/shop/webshop"));
    assert!(!p.contains("backups/shop/webshop/"));
    assert!(!p.contains("backups/shop/webshop/old/20260101T000000Z.dump"));
    assert!(!p.contains("other/backups/shop/webshop/20260101T000000Z.dump"));
}

#[test]
fn orphans_are_old_data_objects_without_a_manifest() {
    let now = at("2026-03-10T12:00:00Z");
    let objects = vec![
        // complete backup
        object(
            "backups/shop/webshop/20260308T000000Z.dump.zst",
            "2026-03-08T00:00:00Z",
        ),
        object(
            "backups/shop/webshop/20260308T000000Z.dump.zst.manifest.json",
            "2026-03-08T00:10:00Z",
        ),
        // old orphan
        object(
            "backups/shop/webshop/20260309T000000Z.dump.zst",
            "2026-03-09T00:00:00Z",
        ),
        // orphan exactly at the grace boundary: not older than grace yet
        object(
            "backups/shop/webshop/20260310T110000Z.dump.zst",
            "2026-03-10T11:00:00Z",
        ),
        // young orphan: maybe a backup writing its manifest right now
        object(
            "backups/shop/webshop/20260310T113000Z.dump.zst",
            "2026-03-10T11:30:00Z",
        ),
        // manifest without its data object: a broken backup
        object(
            "backups/shop/webshop/20260307T000000Z.dump.zst.manifest.json",
            "2026-03-07T00:10:00Z",
        ),
        // a neighbouring policy's orphan and a deeper key: never selected
        object(
            "backups/shop/webshop-2/20260301T000000Z.dump.zst",
            "2026-03-01T00:00:00Z",
        ),
        object(
            "backups/shop/webshop/x/20260301T000000Z.dump.zst",
            "2026-03-01T00:00:00Z",
        ),
        // something a person put there
        object("backups/shop/webshop/README.txt", "2026-01-01T00:00:00Z"),
    ];
    let report = find_orphans(&objects, &BTreeSet::new(), &prefix(), HOUR, now);
    let expected = OrphanReport {
        orphans: strings(&["backups/shop/webshop/20260309T000000Z.dump.zst"]),
        broken: strings(&["backups/shop/webshop/20260307T000000Z.dump.zst.manifest.json"]),
        unrecognized: strings(&["backups/shop/webshop/README.txt"]),
    };
    assert_eq!(report, expected);
}

#[test]
fn a_manifest_known_to_the_caller_protects_its_data_object() {
    let now = at("2026-03-10T12:00:00Z");
    let data = "backups/shop/webshop/20260301T000000Z.sql.gz";
    let manifest = format!("{data}.manifest.json");
    let objects = vec![object(data, "2026-03-01T00:00:00Z")];
    let manifests: BTreeSet<String> = [manifest.clone(), "elsewhere/x.manifest.json".to_owned()]
        .into_iter()
        .collect();
    let report = find_orphans(&objects, &manifests, &prefix(), HOUR, now);
    assert_eq!(report, OrphanReport::default());

    // A manifest the caller could not read still protects the data object.
    let with_listed_manifest = vec![
        object(data, "2026-03-01T00:00:00Z"),
        object(&manifest, "2026-03-01T00:01:00Z"),
    ];
    let report = find_orphans(
        &with_listed_manifest,
        &BTreeSet::new(),
        &prefix(),
        HOUR,
        now,
    );
    assert_eq!(report, OrphanReport::default());

    // A manifest known only to the caller whose data is not listed is broken.
    let report = find_orphans(&[], &manifests, &prefix(), HOUR, now);
    assert_eq!(report.broken, vec![manifest]);
    assert!(report.orphans.is_empty());
}

#[test]
fn a_huge_grace_means_nothing_is_old_enough() {
    let now = at("2026-03-10T12:00:00Z");
    let objects = vec![object(
        "backups/shop/webshop/20000101T000000Z.dump",
        "2000-01-01T00:00:00Z",
    )];
    let grace = Duration::from_secs(u64::MAX);
    let report = find_orphans(&objects, &BTreeSet::new(), &prefix(), grace, now);
    assert!(report.orphans.is_empty());
}

#[test]
fn stale_uploads_are_old_uploads_under_the_prefix_only() {
    let now = at("2026-03-10T12:00:00Z");
    let upload = |key: &str, id: &str, initiated: &str| MultipartUpload {
        key: key.to_owned(),
        upload_id: id.to_owned(),
        initiated: at(initiated),
    };
    let uploads = vec![
        upload(
            "backups/shop/webshop/20260309T000000Z.dump",
            "b",
            "2026-03-09T00:00:00Z",
        ),
        upload(
            "backups/shop/webshop/20260309T000000Z.dump",
            "a",
            "2026-03-09T00:00:00Z",
        ),
        upload(
            "backups/shop/webshop/20260310T113000Z.dump",
            "c",
            "2026-03-10T11:30:00Z",
        ),
        upload(
            "backups/shop/webshop-2/20260301T000000Z.dump",
            "d",
            "2026-03-01T00:00:00Z",
        ),
        upload(
            "backups/shop/webshop/deep/20260301T000000Z.dump",
            "e",
            "2026-03-01T00:00:00Z",
        ),
    ];
    let stale = stale_uploads(&uploads, &prefix(), HOUR, now);
    let ids: Vec<&str> = stale.iter().map(|u| u.upload_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b"]);
}

#[test]
fn only_timestamp_named_objects_can_be_orphans() {
    let now = at("2026-03-10T12:00:00Z");
    let old = "2026-01-01T00:00:00Z";
    let objects = vec![
        object("backups/shop/webshop/20260101T000000Z", old),
        object("backups/shop/webshop/20260101T000000Z.", old),
        object("backups/shop/webshop/2026-01-01.dump", old),
        object("backups/shop/webshop/20261399T000000Z.dump", old),
        object("backups/shop/webshop/20260101T000000Z.sql.gz.age", old),
    ];
    let report = find_orphans(&objects, &BTreeSet::new(), &prefix(), HOUR, now);
    assert_eq!(
        report.orphans,
        strings(&["backups/shop/webshop/20260101T000000Z.sql.gz.age"])
    );
    assert_eq!(report.unrecognized.len(), 4);
}

#[test]
fn a_globals_object_belongs_to_its_data_objects_manifest() {
    let now = at("2026-03-10T12:00:00Z");
    let kept = "backups/shop/webshop/20260301T000000Z.dump.zst.age";
    let failed = "backups/shop/webshop/20260302T000000Z.dump.zst.age";
    let objects = vec![
        object(kept, "2026-03-01T00:00:00Z"),
        object(
            &format!("{kept}.globals.sql.zst.age"),
            "2026-03-01T00:00:00Z",
        ),
        object(&format!("{kept}.manifest.json"), "2026-03-01T00:00:00Z"),
        object(
            &format!("{failed}.globals.sql.zst.age"),
            "2026-03-02T00:00:00Z",
        ),
    ];
    let report = find_orphans(&objects, &BTreeSet::new(), &prefix(), HOUR, now);
    assert_eq!(
        report.orphans,
        strings(&[&format!("{failed}.globals.sql.zst.age")]),
        "the kept backup's globals stay, the failed backup's go"
    );
    assert!(report.broken.is_empty());
}
