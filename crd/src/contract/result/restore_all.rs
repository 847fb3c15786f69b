//! Payload of a `restore` of every database of a run (`TIDEMARK_RESTORE_ALL_DATABASES`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most per-database entries an all-databases restore report lists (in run order);
/// `databases_omitted` counts the rest. Each entry is small, so the report stays well
/// under the 4 KiB termination-message limit.
pub const MAX_RESTORED_DATABASES: usize = 12;

/// What became of one database of the run.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum DatabaseRestoreOutcome {
    /// Restored and committed; its row counts match the manifest.
    Restored,
    /// Restored and committed, but its row counts differ from the manifest.
    Mismatched,
    /// Its restore failed and was rolled back: the database is as it was (a database
    /// the run created for it was dropped again).
    Failed,
    /// Not started: an earlier database failed, or the check of the targets failed.
    NotStarted,
}

/// One database of an all-databases restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseRestore {
    /// The database (restored into the database of the same name on the target server).
    pub database: String,
    /// Key of its backup relative to the policy prefix (`<run>.<database>.<ext>`; a
    /// `backup.key` accepts it).
    pub key: String,
    pub outcome: DatabaseRestoreOutcome,
    /// Whether the runner created the database (and kept it).
    #[serde(default)]
    pub created: bool,
    /// Tables whose data or definition its restore covered.
    #[serde(default)]
    pub tables_restored: u32,
    /// Tables whose row counts were compared with its manifest.
    #[serde(default)]
    pub tables_compared: u32,
    /// Tables whose row counts differ from its manifest.
    #[serde(default)]
    pub mismatch_count: u32,
    /// Wall time of its restore, from the first downloaded byte to the commit, in
    /// milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// Why it failed: the error's reason (`RowCountMismatch`, `RestoreFailed`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a restore of every database of a run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllDatabasesRestore {
    /// The run's id (its key timestamp).
    pub run_id: String,
    /// When the run's last backup completed.
    pub backup_completed_at: DateTime<Utc>,
    /// The run's databases in run order (at most [`MAX_RESTORED_DATABASES`]).
    pub databases: Vec<DatabaseRestore>,
    /// Databases of the run not listed in `databases`.
    #[serde(default)]
    pub databases_omitted: u32,
    /// How many were restored (committed; with or without mismatching counts).
    pub restored: u32,
    /// How many failed (rolled back).
    pub failed: u32,
    /// How many were not started.
    pub not_started: u32,
    /// Sum of the databases' restore durations, in milliseconds.
    pub duration_ms: u64,
}
