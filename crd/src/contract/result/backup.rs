//! Payload of a `backup` report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a successful backup produced.
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
}
