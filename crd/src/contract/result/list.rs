//! Payload of a `list` report: a summary, plus the backup a selector chose (which is
//! how the operator resolves a restore from an explicit source). The full inventory is
//! printed on stdout before the report line.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One backup of the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedBackup {
    pub key: String,
    pub completed_at: DateTime<Utc>,
    pub stored_size: u64,
    pub sha256: String,
}

/// Summary of a policy's inventory (backups that have a manifest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResult {
    pub count: u32,
    pub total_stored_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
    /// The backup the selector (`latest`, a key, or `before` a time) chose, if asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<ListedBackup>,
    /// Backups whose manifest exists without its data (or with data of another size):
    /// never listed, selected or kept, and counted here so that nobody misses them.
    #[serde(default)]
    pub broken_count: u32,
    /// Keys of the newest broken backups (at most [`MAX_BROKEN_KEYS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<String>,
}

/// How many broken backup keys a `list` or `prune` report names.
pub const MAX_BROKEN_KEYS: usize = 5;
