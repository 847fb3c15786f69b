//! `BackupPolicy` status: what happened, what is stored, and whether it can be trusted.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::common::{JobRef, TableMismatch};

/// Observed state of a BackupPolicy, written by the operator with server-side apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupPolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `LastBackupSucceeded`, `BackupFresh`, `Verified`, `RestoreTested`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The settings in use: the spec's values, or those derived from the schedule's
    /// longest gap when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<EffectiveSettings>,
    /// The newest successful backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<BackupRecord>,
    /// The most recent failed run of any kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<FailureRecord>,
    /// The retained inventory, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<InventoryEntry>,
    /// Number of retained backups.
    #[serde(default)]
    pub backup_count: i32,
    /// Oldest and newest restorable points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<RestoreWindow>,
    /// When the next backup is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<DateTime<Utc>>,
    /// The scheduled time of the last backup started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<DateTime<Utc>>,
    /// The last run that was not started, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skipped: Option<SkippedRun>,
    /// Failed backups since the last successful one.
    #[serde(default)]
    pub consecutive_failures: i32,
    /// The last `spec.runNow` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_now: Option<String>,
    /// The last `tidemark.dev/run-now` annotation value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_now_annotation: Option<String>,
    /// The Job of the one backup `spec.immediate` started (it never starts another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immediate_backup: Option<String>,
    /// Jobs of this policy that are running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<JobRef>,
    /// The last verification of the newest backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verification: Option<VerificationRecord>,
    /// The last automated restore test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restore_test: Option<RestoreTestRecord>,
    /// The last backup run of a policy with several databases (`spec.databases`):
    /// each database's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunRecord>,
    /// The scheduled time of the last verification started (scheduler bookkeeping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verification_schedule_time: Option<DateTime<Utc>>,
    /// The scheduled time of the last restore test started (scheduler bookkeeping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restore_test_schedule_time: Option<DateTime<Utc>>,
    /// Names of the most recent finished Jobs already recorded in this status, so each
    /// result is counted exactly once (bounded, newest last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub recorded_jobs: Vec<String>,
}

/// A successful backup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// Object key of the backup.
    pub key: String,
    /// When the dump started.
    pub started_at: DateTime<Utc>,
    /// When the upload completed.
    pub completed_at: DateTime<Utc>,
    /// Stored size in bytes.
    pub stored_bytes: i64,
    /// Raw pg_dump size in bytes.
    pub raw_bytes: i64,
    /// Stored size for people (e.g. `12.3 MiB`).
    pub size: String,
    /// SHA-256 of the stored bytes (hex).
    pub sha256: String,
    /// Rows in all tables, counted inside the dump's snapshot.
    pub total_rows: i64,
    /// Number of tables dumped.
    pub table_count: i32,
    /// Wall time of the backup in seconds.
    pub duration_seconds: f64,
    /// The Job that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

/// A failed run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureRecord {
    /// When the failure was observed.
    pub time: DateTime<Utc>,
    /// `backup`, `prune`, `verify` or `restore-test`.
    pub kind: String,
    /// Machine-readable reason (e.g. `PgDumpFailed`, `DeadlineExceeded`).
    pub reason: String,
    /// What went wrong (never contains secrets).
    pub message: String,
    /// The failed Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// The runner's exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// Verification state of one stored backup.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum VerificationState {
    /// Not verified yet.
    #[default]
    Unverified,
    /// Every check passed.
    Verified,
    /// A check failed.
    Failed,
}

/// One retained backup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryEntry {
    /// Object key.
    pub key: String,
    /// When the upload completed.
    pub completed_at: DateTime<Utc>,
    /// Stored size in bytes.
    pub stored_bytes: i64,
    /// SHA-256 of the stored bytes (hex).
    pub sha256: String,
    /// Retention tiers keeping it: `newest`, `hourly`, `daily`, `weekly`, `monthly`, `yearly`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    /// Verification state.
    #[serde(default)]
    pub verification: VerificationState,
    /// Set when the entry stands for a run of several databases: the run id. The key
    /// is then the object of the run's last good database; `lastRun` and
    /// `tidemark-runner list` show each database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The last run of a policy with several databases: each database's outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// Run id (the key timestamp shared by its objects).
    pub id: String,
    /// When the run's Job finished.
    pub time: DateTime<Utc>,
    /// Databases backed up.
    pub succeeded: i32,
    /// Databases that failed.
    pub failed: i32,
    /// Per database, failures first (at most 16; `omitted` counts the rest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub databases: Vec<DatabaseRunResult>,
    /// Databases not listed in `databases`.
    #[serde(default)]
    pub omitted: i32,
    /// The Job that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

/// One database of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseRunResult {
    /// Database name.
    pub database: String,
    /// Whether its backup was committed.
    pub ok: bool,
    /// Why it failed (the runner's reason, e.g. `PostgresRejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Stored bytes of its object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<i64>,
    /// Rows counted in its snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<i64>,
}

/// The range of restorable points.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreWindow {
    /// Completion time of the oldest retained backup.
    pub oldest: DateTime<Utc>,
    /// Completion time of the newest retained backup.
    pub newest: DateTime<Utc>,
}

/// Why a run was not started.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum SkipReason {
    /// The run was later than `startingDeadlineSeconds` (e.g. the operator was down).
    #[default]
    MissedStartingDeadline,
    /// The previous run was still active.
    PreviousRunActive,
}

/// A run that was not started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedRun {
    /// `backup`, `verify` or `restore-test`.
    pub kind: String,
    /// The scheduled time that was skipped.
    pub scheduled_time: DateTime<Utc>,
    /// Why it was skipped.
    pub reason: SkipReason,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Outcome of one named verification check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// `ManifestPresent`, `ObjectPresent`, `SizeMatches`, `MinimumSize`, `ChecksumMatches`, `Fresh`.
    pub name: String,
    /// Whether the check passed.
    pub passed: bool,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The last verification.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRecord {
    /// When it finished.
    pub time: DateTime<Utc>,
    /// The verified backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether every check passed.
    pub passed: bool,
    /// Each check by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// The verification Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

/// The last automated restore test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTestRecord {
    /// When it finished.
    pub time: DateTime<Utc>,
    /// The restored backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether the restore succeeded and every count matched.
    pub passed: bool,
    /// Tables whose row counts were compared.
    pub tables_compared: i32,
    /// Tables whose counts differ from the manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<TableMismatch>,
    /// Measured restore duration in seconds: the recovery time actually achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_duration_seconds: Option<f64>,
    /// Details (the failure when it failed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The restore-test Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
}

/// Settings in use, derived from the backup schedule when the spec leaves them unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveSettings {
    /// Longest time between two consecutive backups of `spec.schedule` (in its time
    /// zone, over a year, DST changes included).
    pub longest_gap: String,
    /// Recovery point objective in use (`spec.rpo`, else longest gap + deadline).
    pub rpo: String,
    /// Verification's maximum age in use (`spec.verification.maxAge`, else longest gap
    /// + deadline).
    pub max_age: String,
    /// Backup Job deadline in use (`spec.deadlineSeconds`, else 11/12 of the longest gap).
    pub deadline_seconds: i64,
}
