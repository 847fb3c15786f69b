//! The result report every runner subcommand writes as one compact JSON object to the
//! termination-message file and as the last line of stdout. It must stay under
//! [`MAX_REPORT_BYTES`], the Kubernetes termination-message limit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Kubernetes truncates termination messages beyond 4 KiB.
pub const MAX_REPORT_BYTES: usize = 4096;

/// Process exit codes of the runner.
pub mod exit_code {
    /// The command did what was asked.
    pub const SUCCESS: i32 = 0;
    /// A runtime failure (database, storage, network, a tool failed): retrying may help.
    pub const RUNTIME: i32 = 1;
    /// The configuration is invalid (missing or malformed setting): retrying cannot help.
    pub const CONFIG: i32 = 2;
    /// An integrity or verification check failed (checksum, size, row counts, age).
    pub const CHECK_FAILED: i32 = 3;
}

/// Which subcommand produced a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunnerCommand {
    Backup,
    Restore,
    Verify,
    RestoreTest,
    Prune,
    List,
}

/// Overall outcome of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// Category of a failure; matches the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// Invalid configuration ([`exit_code::CONFIG`]).
    Config,
    /// Runtime failure ([`exit_code::RUNTIME`]).
    Runtime,
    /// A check failed ([`exit_code::CHECK_FAILED`]).
    Check,
}

impl ErrorKind {
    /// The process exit code for this kind of failure.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Config => exit_code::CONFIG,
            ErrorKind::Runtime => exit_code::RUNTIME,
            ErrorKind::Check => exit_code::CHECK_FAILED,
        }
    }
}

/// A failure as reported to the operator. The message never contains secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedError {
    pub kind: ErrorKind,
    /// Short machine-readable reason, e.g. `PgDumpFailed`, `S3Unreachable`.
    pub reason: String,
    /// Human-readable message (secret-free, truncated to fit the report).
    pub message: String,
}

/// The one JSON object a runner run ends with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnerReport {
    pub command: RunnerCommand,
    pub outcome: Outcome,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub runner_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportedError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupResult>,
}

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
