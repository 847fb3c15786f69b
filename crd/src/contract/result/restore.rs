//! Payload of a `restore` and of a `restore-test` report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::TableMismatch;

/// At most this many mismatches are listed; `mismatch_count` has the total.
pub const MAX_LISTED_MISMATCHES: usize = 20;

/// What a restore (or a restore test) did and how the restored row counts compared
/// with the manifest. Present on failed comparisons too, so the mismatches reach status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResult {
    /// Key of the restored backup object.
    pub key: String,
    /// SHA-256 of the stored bytes, as recorded in the manifest and verified on the way.
    pub sha256: String,
    /// When the restored backup completed.
    pub backup_completed_at: DateTime<Utc>,
    /// Size of the stored object in bytes.
    pub stored_size: u64,
    /// Database restored into (for a restore test: the scratch database).
    pub target_database: String,
    /// Whether the runner created the target database.
    #[serde(default)]
    pub database_created: bool,
    /// Roles the restore created on the target server (in order), from the backup's
    /// globals object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_created: Vec<String>,
    /// Whether the backup's database settings were recreated (the runner created the
    /// database and the backup has a globals object).
    #[serde(default)]
    pub database_settings_restored: bool,
    /// `Full`, `DataOnly` or `SchemaOnly`.
    pub content: String,
    /// Tables whose data or definition the restore covered.
    pub tables_restored: u32,
    /// Tables whose row counts were compared with the manifest.
    pub tables_compared: u32,
    /// The first [`MAX_LISTED_MISMATCHES`] tables whose counts differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<TableMismatch>,
    /// Number of tables whose counts differ.
    #[serde(default)]
    pub mismatch_count: u32,
    /// Wall time from the first downloaded byte to the restore's commit, in milliseconds
    /// (the recovery time actually achieved).
    pub duration_ms: u64,
    /// Connections that loaded the data: 1 for the single stream (also when a parallel
    /// restore fell back to it), N for the parallel path.
    #[serde(default = "one")]
    pub parallelism: u32,
}

fn one() -> u32 {
    1
}
