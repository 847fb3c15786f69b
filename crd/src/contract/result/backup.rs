//! Payload of a `backup` report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a successful backup produced. For a run of several databases the top-level
/// fields describe the run's last good database's object, and [`databases`] lists
/// every database of the run.
///
/// [`databases`]: BackupResult::databases
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupResult {
    pub key: String,
    pub manifest_key: String,
    pub stored_size: u64,
    pub raw_size: u64,
    pub sha256: String,
    pub total_rows: i64,
    pub table_count: u32,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    /// Wall time of the dump-and-upload stream in milliseconds.
    pub duration_ms: u64,
    pub server_version: String,
    pub pg_dump_version: String,
    pub database: String,
    /// A run of several databases: its id (the key timestamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// A run of several databases: each database's outcome, in run order (at most
    /// [`MAX_DATABASE_RESULTS`]; `databases_omitted` counts the rest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseBackup>,
    /// Databases of the run not listed in `databases` (the report stays small).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub databases_omitted: u32,
}

/// Most per-database results a backup report lists.
pub const MAX_DATABASE_RESULTS: usize = 16;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One database of a multi-database run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseBackup {
    pub database: String,
    /// Whether its backup was committed (data object and manifest).
    pub ok: bool,
    /// Stored bytes of its data object (when `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_size: Option<u64>,
    /// Rows counted in its snapshot (when `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<i64>,
    /// Why it failed: the error's reason (`PostgresRejected`, `PgDumpFailed`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
