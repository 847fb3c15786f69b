//! Payload of a `prune` report. Kept backups are named by their key's timestamp stem
//! (`20261123T140005Z`) so that a full 24h+7d+4w+12m+5y inventory fits the 4 KiB report.

use serde::{Deserialize, Serialize};

/// A backup retention keeps and the tiers that keep it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptBackup {
    /// The key's timestamp stem, [`crate::contract::keys::KEY_TIMESTAMP_FORMAT`].
    pub stamp: String,
    /// `hourly`, `daily`, `weekly`, `monthly`, `yearly`, or `newest`.
    pub tiers: Vec<String>,
}

/// What one retention run kept and deleted (or, with `dry_run`, would delete).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneResult {
    pub dry_run: bool,
    /// Kept backups, newest first; cut when the report would not fit (`truncated`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptBackup>,
    pub kept_count: u32,
    /// Deleted backup keys (data objects; their manifests went with them); cut to fit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
    pub deleted_count: u32,
    /// Objects without a manifest older than the grace period that were deleted.
    #[serde(default)]
    pub orphans_deleted: u32,
    /// Stale multipart uploads aborted.
    #[serde(default)]
    pub uploads_aborted: u32,
    /// Bytes freed by the deletions.
    #[serde(default)]
    pub bytes_deleted: u64,
    /// True when `kept` or `deleted` lists were shortened to fit the report.
    #[serde(default)]
    pub truncated: bool,
    /// Backups whose manifest exists without its data (or with data of another size):
    /// never listed, selected or kept, and counted here so that nobody misses them.
    #[serde(default)]
    pub broken_count: u32,
    /// Keys of the newest broken backups (at most [`super::list::MAX_BROKEN_KEYS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<String>,
}
