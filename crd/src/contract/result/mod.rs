//! The result report every runner subcommand writes as one compact JSON object to the
//! termination-message file and as the last line of stdout. It must stay under
//! [`MAX_REPORT_BYTES`], the Kubernetes termination-message limit.

mod backup;
mod list;
mod preflight;
mod prune;
mod restore;
mod verify;

pub use backup::{BackupResult, DatabaseBackup, MAX_DATABASE_RESULTS};
pub use list::{ListResult, ListedBackup, MAX_BROKEN_KEYS};
pub use preflight::PreflightResult;
pub use prune::{KeptBackup, PruneResult};
pub use restore::{MAX_LISTED_MISMATCHES, RestoreResult};
pub use verify::{VerifyCheck, VerifyCheckName, VerifyResult};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// `restore`: what was restored and how it compared (also on a failed comparison).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreResult>,
    /// `restore-test`: the scratch restore and its comparison (also when it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_test: Option<RestoreResult>,
    /// `verify`: every check by name (also when one failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyResult>,
    /// `prune`: what retention kept (with tiers) and deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneResult>,
    /// `list`: a summary of the inventory and the selected backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListResult>,
    /// `restore --preflight`: what the target database holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightResult>,
}

impl RunnerReport {
    /// An empty report for `command`: succeeded, no payload.
    pub fn new(command: RunnerCommand, started_at: DateTime<Utc>, runner_version: &str) -> Self {
        Self {
            command,
            outcome: Outcome::Succeeded,
            started_at,
            finished_at: started_at,
            runner_version: runner_version.to_string(),
            error: None,
            backup: None,
            restore: None,
            restore_test: None,
            verify: None,
            prune: None,
            list: None,
            preflight: None,
        }
    }
}
