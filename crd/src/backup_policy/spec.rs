//! `BackupPolicy` spec: when, what, how, where and how long.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::databases::DatabaseSelection;
use super::options::{
    DeletionPolicy, DumpOptions, Encryption, Notifications, RestoreTest, Retention, Verification,
};
use super::status::BackupPolicyStatus;
use crate::common::{DatabaseConnection, JobTemplate, S3Destination};

/// A schedule of logical PostgreSQL backups to S3, with retention, daily verification
/// and periodic automated restore tests.
// Each `printcolumn(...)` repeats `type_ = ...`, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tidemark.dev",
    version = "v1alpha1",
    kind = "BackupPolicy",
    plural = "backuppolicies",
    singular = "backuppolicy",
    shortname = "bp",
    category = "tidemark",
    namespaced,
    status = "BackupPolicyStatus",
    derive = "PartialEq",
    doc = "BackupPolicy declares scheduled logical backups of one PostgreSQL database to S3: pg_dump, compression, optional age encryption, SHA-256 and multipart upload, with tiered retention, daily verification and periodic restore tests.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Last Success",
        type_ = "date",
        json_path = ".status.lastBackup.completedAt"
    ),
    // A `date` column prints the time since a moment, `<invalid>` for one in the future:
    // the next run is shown as its timestamp.
    printcolumn(name = "Next", type_ = "string", json_path = ".status.nextScheduleTime"),
    printcolumn(
        name = "Failures",
        type_ = "integer",
        json_path = ".status.consecutiveFailures"
    ),
    printcolumn(
        name = "Fresh",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"BackupFresh\")].status"
    ),
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule",
        priority = "1"
    ),
    printcolumn(
        name = "Backups",
        type_ = "integer",
        json_path = ".status.backupCount",
        priority = "1"
    ),
    printcolumn(
        name = "Size",
        type_ = "string",
        json_path = ".status.lastBackup.size",
        priority = "1"
    ),
    printcolumn(
        name = "Verified",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Verified\")].status",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.encryption) || !has(self.restoreTest) || !self.restoreTest.enabled || has(self.restoreTest.decryptionIdentitySecretRef)")
        .message("restoreTest.decryptionIdentitySecretRef is required when encryption is set: a restore test must decrypt the backup")
        .field_path(".restoreTest"),
    validation = Rule::new("!has(self.database.host) || has(self.database.database) || has(self.databases)")
        .message("database is required when host is set")
        .field_path(".database.database"),
    validation = Rule::new(
        "!has(self.scheduleSpreadSeconds) || (self.scheduleSpreadSeconds >= 0 && self.scheduleSpreadSeconds <= 3600)"
    )
    .message("scheduleSpreadSeconds must be between 0 and 3600")
    .field_path(".scheduleSpreadSeconds"),
    validation = Rule::new("!has(self.databases) || !has(self.database.database)")
        .message("set either database.database (one database) or databases (several), not both")
        .field_path(".databases"),
)]
pub struct BackupPolicySpec {
    /// Cron schedule of backups, five fields (`minute hour day-of-month month
    /// day-of-week`) or a macro such as `@hourly`; evaluated in `timeZone`.
    #[schemars(
        length(min = 1, max = 128),
        regex(
            pattern = crate::common::CRON_PATTERN
        )
    )]
    pub schedule: String,
    /// IANA time zone of all schedules and of the retention periods (e.g. `Europe/Berlin`).
    #[serde(default = "default_time_zone")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
    )]
    pub time_zone: String,
    /// Pause scheduling: no new backups, verifications or restore tests start.
    #[serde(default)]
    pub suspend: bool,
    /// Set to a new value (e.g. a timestamp) to start one backup now. The status echoes
    /// the last value handled in `lastRunNow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub run_now: Option<String>,
    /// Take one backup as soon as the policy exists, without waiting for the schedule
    /// (once: the status records it in `immediateBackup`). The annotation
    /// `tidemark.dev/run-now: <token>` starts one more backup for each new token without
    /// changing the spec; the status echoes it in `lastRunNowAnnotation`.
    #[serde(default)]
    pub immediate: bool,
    /// Spread the fire times of this policy's schedules (backup, verification, restore
    /// test) by up to this many seconds: each fire time moves later by a fixed offset in
    /// `0..=scheduleSpreadSeconds` derived from a hash of the policy's namespace, name and
    /// uid, so many policies with the same schedule do not start in the same second. A
    /// run is never moved onto or past the schedule's next fire time (the offset ends at
    /// least a minute before it). The spread time is the one in
    /// `status.nextScheduleTime` and in the Job's `tidemark.dev/scheduled-time`. Unset or
    /// 0: no spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_spread_seconds: Option<i32>,
    /// A run missed (e.g. while the operator was down) is still started if no more than
    /// this many seconds late; otherwise it is recorded as skipped. Unset: always caught
    /// up, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub starting_deadline_seconds: Option<i64>,
    /// Maximum run time of one backup Job in seconds (`activeDeadlineSeconds`). Unset:
    /// 11/12 of the schedule's longest gap between runs (55 minutes for an hourly
    /// schedule), so a backup that hangs ends before the next one starts; the value in
    /// use is in `status.effective.deadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60, max = 604_800))]
    pub deadline_seconds: Option<i64>,
    /// The database to back up: the server connection, and (in `database`) the one
    /// database of a single-database policy.
    pub database: DatabaseConnection,
    /// Several databases of the server in one run, instead of `database.database`: a
    /// list of names or all non-template databases (with exclusions). Keys and
    /// manifests of a policy without it stay those of a single-database policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<DatabaseSelection>,
    /// pg_dump, compression and row-count options.
    #[serde(default)]
    pub dump: DumpOptions,
    /// Client-side encryption with age; backups are stored unencrypted (but still with
    /// server-side encryption) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Where backups are stored.
    pub s3: S3Destination,
    /// How many backups to keep per period (grandfather-father-son).
    #[serde(default)]
    pub retention: Retention,
    /// Scheduled checks of the newest backup.
    #[serde(default)]
    pub verification: Verification,
    /// Periodic automated restore of the newest backup into a scratch server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_test: Option<RestoreTest>,
    /// Recovery point objective: `BackupFresh` turns False when the newest backup is older.
    /// Unset: the schedule's longest gap plus the backup deadline (the value in use is in
    /// `status.effective.rpo`). A value shorter than the longest gap sets Ready=False.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::common::DURATION_PATTERN))]
    pub rpo: Option<String>,
    /// Shape of the Jobs that run the runner.
    #[serde(default)]
    pub job_template: JobTemplate,
    /// Webhook alerts (Discord- and Slack-compatible) without Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
    /// What happens to stored backups when the policy is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn default_time_zone() -> String {
    "UTC".to_string()
}
