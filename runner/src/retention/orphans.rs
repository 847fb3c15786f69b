//! Cleanup decisions beside retention: data objects without a manifest (orphans),
//! manifests without a data object (broken backups), and stale multipart uploads.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use tidemark_crd::contract::keys::{
    KEY_TIMESTAMP_FORMAT, MANIFEST_SUFFIX, backup_key_of_globals, backup_key_of_manifest,
    manifest_key, policy_prefix,
};

/// Why a policy prefix was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The prefix is empty: it would match every key in the bucket.
    #[error("the policy prefix is empty; it would match every key in the bucket")]
    Empty,
    /// The prefix has an empty path segment (`a//b`), or a segment contains `/`.
    #[error("the policy prefix {0:?} has an empty or malformed path segment")]
    Malformed(String),
}

/// The "directory" `<prefix>/<namespace>/<policy>/` holding one policy's objects, always
/// ending in `/` so that `ns/policy/` never matches `ns/policy-2/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyPrefix(String);

impl PolicyPrefix {
    /// A policy prefix from its full text; a missing trailing `/` is added.
    pub fn new(prefix: &str) -> Result<Self, PrefixError> {
        let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
        if trimmed.is_empty() {
            return Err(PrefixError::Empty);
        }
        if trimmed.split('/').any(str::is_empty) {
            return Err(PrefixError::Malformed(prefix.to_owned()));
        }
        Ok(Self(format!("{trimmed}/")))
    }

    /// The prefix of `policy` in `namespace` under the bucket prefix `prefix` (which
    /// may be empty), laid out by the shared key contract; slashes around `prefix` are
    /// ignored.
    pub fn for_policy(prefix: &str, namespace: &str, policy: &str) -> Result<Self, PrefixError> {
        for segment in [namespace, policy] {
            if segment.is_empty() || segment.contains('/') {
                return Err(PrefixError::Malformed(segment.to_owned()));
            }
        }
        Self::new(&policy_prefix(prefix, namespace, policy))
    }

    /// The prefix text, ending in `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object name of `key` when it is a direct child of this prefix (not in a
    /// deeper "directory", not under a neighbouring policy).
    pub fn child_name<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(self.0.as_str())
            .filter(|name| !name.is_empty() && !name.contains('/'))
    }

    /// Whether `key` is a direct child of this prefix.
    pub fn contains(&self, key: &str) -> bool {
        self.child_name(key).is_some()
    }
}

impl std::fmt::Display for PolicyPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One object of a bucket listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredObject {
    /// Object key.
    pub key: String,
    /// The listing's last-modified time (for a multipart object: when its upload began).
    pub last_modified: DateTime<Utc>,
}

/// One in-progress multipart upload of a bucket listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartUpload {
    /// Key the upload would create.
    pub key: String,
    /// The upload's id, needed to abort it.
    pub upload_id: String,
    /// When the upload was initiated.
    pub initiated: DateTime<Utc>,
}

/// What [`find_orphans`] found under one policy prefix. Every key is a direct child of
/// the prefix; each list is sorted and free of duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanReport {
    /// Data objects without a manifest, older than the grace period: safe to delete.
    pub orphans: Vec<String>,
    /// Manifest keys whose data object is missing: broken backups, to report, never to
    /// delete automatically.
    pub broken: Vec<String>,
    /// Objects under the prefix that follow neither the data nor the manifest naming:
    /// left alone.
    pub unrecognized: Vec<String>,
}

/// Classifies the objects of one policy prefix.
///
/// `objects` is a bucket listing (keys outside `prefix` are ignored). `manifests` holds
/// manifest object keys (`<data key>.manifest.json`) the caller knows of; manifests that
/// appear in `objects` count too, so a data object is never called an orphan while any
/// manifest for it is visible, even one the caller could not parse.
///
/// A data object is an orphan when its name starts with the key timestamp layout, no
/// manifest exists for it (for a globals object: for its data object), and it is older than `grace` at `now` (strictly). Because a
/// multipart object's last-modified time is when its upload *began*, `grace` must exceed
/// the longest backup run, or a backup between upload completion and manifest write
/// could be taken for an orphan.
pub fn find_orphans(
    objects: &[StoredObject],
    manifests: &BTreeSet<String>,
    prefix: &PolicyPrefix,
    grace: Duration,
    now: DateTime<Utc>,
) -> OrphanReport {
    // Newest last-modified time per key: a key listed twice is as young as its
    // youngest entry.
    let mut listed: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for object in objects.iter().filter(|o| prefix.contains(&o.key)) {
        let at = listed
            .entry(object.key.as_str())
            .or_insert(object.last_modified);
        *at = (*at).max(object.last_modified);
    }
    let known_manifests: BTreeSet<&str> = manifests
        .iter()
        .map(String::as_str)
        .chain(listed.keys().copied())
        .filter(|k| prefix.contains(k) && k.ends_with(MANIFEST_SUFFIX))
        .collect();

    let mut orphans = Vec::new();
    let mut unrecognized = Vec::new();
    for (&key, &last_modified) in &listed {
        let Some(name) = prefix.child_name(key) else {
            continue;
        };
        let data_name = backup_key_of_manifest(name).unwrap_or(name);
        if !is_backup_name(data_name) {
            unrecognized.push(key.to_owned());
        } else if !name.ends_with(MANIFEST_SUFFIX)
            // A globals object belongs to the manifest of its data object.
            && !known_manifests
                .contains(manifest_key(backup_key_of_globals(key).unwrap_or(key)).as_str())
            && older_than(last_modified, grace, now)
        {
            orphans.push(key.to_owned());
        }
    }

    let broken = known_manifests
        .iter()
        .filter(|m| {
            backup_key_of_manifest(m).is_some_and(|data| {
                prefix.child_name(data).is_some_and(is_backup_name) && !listed.contains_key(data)
            })
        })
        .map(|m| (*m).to_owned())
        .collect();

    OrphanReport {
        orphans,
        broken,
        unrecognized,
    }
}

/// The multipart uploads directly under `prefix` initiated more than `grace` before
/// `now`, sorted by key then upload id. An upload is never a committed object, so no
/// naming check applies: aborting one loses nothing that exists.
pub fn stale_uploads(
    uploads: &[MultipartUpload],
    prefix: &PolicyPrefix,
    grace: Duration,
    now: DateTime<Utc>,
) -> Vec<MultipartUpload> {
    let mut stale: Vec<MultipartUpload> = uploads
        .iter()
        .filter(|u| prefix.contains(&u.key) && older_than(u.initiated, grace, now))
        .cloned()
        .collect();
    stale.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    stale.dedup();
    stale
}

/// Whether a name starts with the key timestamp (`20261123T140005Z.`), as every backup
/// data object written by the runner does.
fn is_backup_name(name: &str) -> bool {
    NaiveDateTime::parse_and_remainder(name, KEY_TIMESTAMP_FORMAT)
        .is_ok_and(|(_, rest)| rest.len() > 1 && rest.starts_with('.'))
}

/// Whether `at` lies strictly more than `grace` before `now`. A grace too large to
/// represent means nothing is old enough.
fn older_than(at: DateTime<Utc>, grace: Duration, now: DateTime<Utc>) -> bool {
    TimeDelta::from_std(grace).is_ok_and(|grace| now.signed_duration_since(at) > grace)
}
