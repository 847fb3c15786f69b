//! A policy's inventory: the backups that have a manifest directly under the policy
//! prefix `<prefix>/<namespace>/<policy>/`, read from S3 and sorted by completion time.
//!
//! A backup without its manifest does not exist here, nor does one whose manifest lists
//! a data object that is missing or has another size than the manifest records: such a
//! backup is *broken* ([`Inventory::broken`]): never the newest, never selected, never in
//! a retention tier, always reported. Only `*.manifest.json` objects
//! that are direct children of the prefix count: `ns/web/` never sees `ns/webshop/…`
//! nor `ns/web/old/…`. A manifest that cannot be read as one (not JSON, a newer format
//! version, a `key` field that does not name the object beside it) is skipped with a
//! warning: it is not a backup. [`Inventory::select`] then picks one backup by
//! [`Selector`] without any I/O.

#[cfg(test)]
pub(crate) mod fixtures;
mod runs;
mod select;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use tidemark_crd::contract::keys::{MANIFEST_SUFFIX, backup_key_of_manifest};
use tidemark_crd::contract::manifest::{MANIFEST_FORMAT_VERSION, Manifest};

use crate::error::{Error, Result};
use crate::retention::{Backup, PolicyPrefix};
use crate::s3::listing::{self, SmallObject};
use crate::s3::store::{ListedObject, ObjectStore};

pub use runs::Run;
pub use select::Selector;

/// Manifests fetched at once.
const FETCH_CONCURRENCY: usize = 8;

/// Largest manifest read; anything bigger is not one of ours.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The BackupPolicy a run belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRef {
    pub namespace: String,
    pub name: String,
}

impl PolicyRef {
    /// The policy's prefix `<prefix>/<namespace>/<policy>/` under the bucket prefix.
    pub fn prefix(&self, bucket_prefix: &str) -> String {
        tidemark_crd::contract::keys::policy_prefix(bucket_prefix, &self.namespace, &self.name)
    }
}

/// One backup: its data object key, its manifest's key, and the parsed manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Key of the backup data object.
    pub key: String,
    /// Key of the manifest object (`<key>.manifest.json`).
    pub manifest_key: String,
    /// The parsed manifest.
    pub manifest: Manifest,
}

impl Entry {
    /// The backup as retention sees it.
    pub fn backup(&self) -> Backup {
        Backup::new(self.key.clone(), self.manifest.completed_at)
    }
}

/// A backup whose manifest exists but whose data is not all there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub entry: Entry,
    /// What is wrong, for reports (`data object … is missing`).
    pub why: String,
}

/// The backups of one policy, oldest first (by completion time, then key), and the
/// broken ones beside them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    prefix: String,
    entries: Vec<Entry>,
    broken: Vec<Broken>,
}

/// An inventory together with the listing it was built from (for cleanup decisions).
#[derive(Clone, Debug)]
pub struct Scan {
    pub inventory: Inventory,
    /// Every object whose key starts with the policy prefix, deeper keys included.
    pub objects: Vec<ListedObject>,
    /// Manifest keys directly under the prefix that were skipped (unreadable).
    pub skipped_manifests: Vec<String>,
}

impl Inventory {
    /// Lists the manifests directly under `policy_prefix` in the store's bucket
    /// (paginated), reads and parses them (up to 8 at a time), and sorts the backups by
    /// completion time.
    pub async fn load(store: &dyn ObjectStore, policy_prefix: &str) -> Result<Inventory> {
        Ok(Self::scan(store, policy_prefix).await?.inventory)
    }

    /// Like [`Inventory::load`], also returning the full listing of the prefix.
    pub async fn scan(store: &dyn ObjectStore, policy_prefix: &str) -> Result<Scan> {
        let bucket = store.bucket();
        let prefix = checked_prefix(policy_prefix)?;
        let objects = listing::list_objects(store, prefix.as_str()).await?;
        let manifest_keys: Vec<&str> = objects
            .iter()
            .map(|o| o.key.as_str())
            .filter(|k| {
                prefix
                    .child_name(k)
                    .is_some_and(|n| n.ends_with(MANIFEST_SUFFIX) && n != MANIFEST_SUFFIX)
            })
            .collect();
        let fetched: Vec<(String, std::result::Result<Manifest, String>)> =
            futures::stream::iter(manifest_keys)
                .map(|key| async move {
                    let parsed = read_manifest(store, key).await?;
                    Ok::<_, Error>((key.to_string(), parsed))
                })
                .buffer_unordered(FETCH_CONCURRENCY)
                .try_collect()
                .await?;
        let sizes: BTreeMap<&str, u64> = objects.iter().map(|o| (o.key.as_str(), o.size)).collect();
        let mut entries = Vec::new();
        let mut broken = Vec::new();
        let mut skipped = Vec::new();
        for (manifest_key, parsed) in fetched {
            match parsed.and_then(|m| entry(manifest_key.clone(), m)) {
                Ok(e) => match completeness(&e, &sizes) {
                    None => entries.push(e),
                    Some(why) => {
                        tracing::warn!(bucket, key = %e.key, reason = %why,
                            "broken backup: its manifest exists but its data is not all there");
                        broken.push(Broken { entry: e, why });
                    }
                },
                Err(why) => {
                    tracing::warn!(bucket, key = %manifest_key, reason = %why,
                        "skipping a manifest that is not a backup of this policy");
                    skipped.push(manifest_key);
                }
            }
        }
        skipped.sort();
        tracing::info!(bucket, prefix = %prefix, backups = entries.len(),
            broken = broken.len(), skipped = skipped.len(), "inventory loaded");
        Ok(Scan {
            inventory: Inventory::from_entries(prefix.as_str(), entries).with_broken(broken),
            objects,
            skipped_manifests: skipped,
        })
    }

    /// An inventory of already known entries (sorted here), e.g. for tests.
    pub fn from_entries(policy_prefix: &str, mut entries: Vec<Entry>) -> Inventory {
        entries.sort_by(|a, b| {
            (a.manifest.completed_at, &a.key).cmp(&(b.manifest.completed_at, &b.key))
        });
        entries.dedup_by(|a, b| a.key == b.key);
        Inventory {
            prefix: policy_prefix.to_string(),
            entries,
            broken: Vec::new(),
        }
    }

    /// The same inventory with these broken backups beside it (sorted here).
    pub fn with_broken(mut self, mut broken: Vec<Broken>) -> Inventory {
        broken.sort_by(|a, b| {
            (a.entry.manifest.completed_at, &a.entry.key)
                .cmp(&(b.entry.manifest.completed_at, &b.entry.key))
        });
        self.broken = broken;
        self
    }

    /// The broken backups (manifest present, data missing or of another size), oldest
    /// first. They are in no other view of the inventory.
    pub fn broken(&self) -> &[Broken] {
        &self.broken
    }

    /// Every backup with a manifest, broken ones included, as one inventory without
    /// broken entries: what `verify` checks (it exists to find broken backups).
    pub fn including_broken(&self) -> Inventory {
        let all = self
            .entries
            .iter()
            .cloned()
            .chain(self.broken.iter().map(|b| b.entry.clone()))
            .collect();
        Inventory::from_entries(&self.prefix, all)
    }

    /// The backups, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The policy prefix the inventory was read from.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The newest backup, if any.
    pub fn newest(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// The backups as retention sees them.
    pub fn backups(&self) -> Vec<Backup> {
        self.entries.iter().map(Entry::backup).collect()
    }

    /// The manifest keys of all backups, broken ones included (their objects are not
    /// orphans).
    pub fn manifest_keys(&self) -> BTreeSet<String> {
        self.entries
            .iter()
            .chain(self.broken.iter().map(|b| &b.entry))
            .map(|e| e.manifest_key.clone())
            .collect()
    }
}

/// The policy prefix, refusing one that would cover the whole bucket.
pub fn checked_prefix(policy_prefix: &str) -> Result<PolicyPrefix> {
    PolicyPrefix::new(policy_prefix)
        .map_err(|e| Error::config(format!("policy prefix {policy_prefix:?}: {e}")))
}

/// Reads one manifest: `Ok(Err(why))` when it exists but is not a readable manifest
/// (or vanished since the listing), `Err` when S3 failed.
async fn read_manifest(
    store: &dyn ObjectStore,
    key: &str,
) -> Result<std::result::Result<Manifest, String>> {
    Ok(
        match listing::get_small(store, key, MAX_MANIFEST_BYTES).await? {
            SmallObject::Found(bytes) => serde_json::from_slice::<Manifest>(&bytes)
                .map_err(|e| format!("not a manifest: {e}")),
            SmallObject::Missing => Err("deleted since it was listed".to_string()),
            SmallObject::TooLarge(n) => Err(format!("{n} bytes is too large for a manifest")),
        },
    )
}

/// Why a backup is broken, judged from the listing: `None` when its data object is
/// listed with exactly the manifest's stored size.
pub fn completeness(entry: &Entry, sizes: &BTreeMap<&str, u64>) -> Option<String> {
    match sizes.get(entry.key.as_str()) {
        None => Some(format!("its data object {} is missing", entry.key)),
        Some(&size) if size != entry.manifest.stored_size => Some(format!(
            "its data object {} has {size} bytes, the manifest lists {}",
            entry.key, entry.manifest.stored_size
        )),
        Some(_) => None,
    }
}

/// Checks that a parsed manifest belongs where it was found.
fn entry(manifest_key: String, manifest: Manifest) -> std::result::Result<Entry, String> {
    if manifest.format_version > MANIFEST_FORMAT_VERSION {
        return Err(format!(
            "manifest format version {} is newer than this runner's {MANIFEST_FORMAT_VERSION}",
            manifest.format_version
        ));
    }
    let key = backup_key_of_manifest(&manifest_key).unwrap_or_default();
    if manifest.key != key {
        return Err(format!(
            "its key field {:?} does not name the object beside it ({key})",
            manifest.key
        ));
    }
    Ok(Entry {
        key: key.to_string(),
        manifest_key,
        manifest,
    })
}
