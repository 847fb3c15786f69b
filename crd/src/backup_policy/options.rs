//! The option groups of a `BackupPolicy` spec: dump, encryption, retention,
//! verification, restore test, notifications and deletion.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::common::{DatabaseConnection, SecretKeyRef};

/// Output format of pg_dump.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DumpFormat {
    /// `pg_dump -Fc`: restorable selectively with `pg_restore` (recommended).
    #[default]
    Custom,
    /// `pg_dump -Fp`: a plain SQL script, restored with `psql`.
    Plain,
}

/// Compression algorithm of the stored stream.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CompressionAlgorithm {
    /// zstd: gzip -9's ratio at several times its speed.
    #[default]
    Zstd,
    /// gzip, for tools that only read gzip.
    Gzip,
    /// No compression.
    None,
}

/// Compression settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.level) || self.algorithm != 'gzip' || (self.level >= 1 && self.level <= 9)").message("gzip level must be between 1 and 9").field_path(".level"),
    validation = Rule::new("!has(self.level) || self.algorithm != 'zstd' || (self.level >= 1 && self.level <= 19)").message("zstd level must be between 1 and 19").field_path(".level"),
    validation = Rule::new("!has(self.level) || self.algorithm != 'none'").message("level is not valid with algorithm none").field_path(".level"),
)]
pub struct Compression {
    /// `zstd` (default), `gzip` or `none`.
    #[serde(default)]
    pub algorithm: CompressionAlgorithm,
    /// Compression level: zstd 1–19 (default 3), gzip 1–9 (default 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    /// zstd worker threads; defaults to the CPUs available to the Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub threads: Option<i32>,
}

/// How per-table row counts are recorded in the manifest.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RowCountMode {
    /// `count(*)` inside the dump's snapshot: exactly what the dump holds.
    #[default]
    Exact,
    /// Planner estimates from the catalog: cheap, approximate.
    Estimate,
    /// No row counts (very large databases); restore tests then compare nothing.
    Off,
}

/// pg_dump options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DumpOptions {
    /// `custom` (default) or `plain`.
    #[serde(default)]
    pub format: DumpFormat,
    /// Compression of the dump stream.
    #[serde(default)]
    pub compression: Compression,
    /// Only these schemas (`pg_dump --schema`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_schemas: Vec<String>,
    /// Never these schemas (`pg_dump --exclude-schema`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_schemas: Vec<String>,
    /// Only these tables, `schema.table` (`pg_dump --table`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_tables: Vec<String>,
    /// Never these tables, `schema.table` (`pg_dump --exclude-table`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tables: Vec<String>,
    /// `exact` (default), `estimate` or `off`.
    #[serde(default)]
    pub row_counts: RowCountMode,
}

/// Client-side encryption with age to X25519 recipients. The cluster holds only public
/// keys, so it cannot read old backups; restores need the matching identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.recipients) != has(self.recipientsSecretRef)").message("set exactly one of recipients or recipientsSecretRef"))]
pub struct Encryption {
    /// age recipients (`age1…` public keys) written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 16),
        inner(regex(pattern = r"^age1[02-9ac-hj-np-z]{58}$"))
    )]
    pub recipients: Option<Vec<String>>,
    /// age recipients, one per line, from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients_secret_ref: Option<SecretKeyRef>,
}

/// Grandfather-father-son retention: keep the newest backup of each of the last N
/// hours, days, ISO weeks, months and years that have one, in the policy's time zone.
/// The newest backup is always kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.hourly + self.daily + self.weekly + self.monthly + self.yearly > 0").message("at least one retention count must be greater than 0"))]
pub struct Retention {
    /// Hourly backups to keep.
    #[serde(default = "default_hourly")]
    #[schemars(range(min = 0, max = 10_000))]
    pub hourly: i32,
    /// Daily backups to keep.
    #[serde(default = "default_daily")]
    #[schemars(range(min = 0, max = 10_000))]
    pub daily: i32,
    /// Weekly backups to keep.
    #[serde(default = "default_weekly")]
    #[schemars(range(min = 0, max = 10_000))]
    pub weekly: i32,
    /// Monthly backups to keep.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10_000))]
    pub monthly: i32,
    /// Yearly backups to keep.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1_000))]
    pub yearly: i32,
    /// Objects without a manifest (interrupted uploads) and unfinished multipart uploads
    /// older than this are removed.
    #[serde(default = "default_orphan_grace")]
    #[schemars(regex(pattern = crate::common::DURATION_PATTERN))]
    pub orphan_grace_period: String,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            hourly: default_hourly(),
            daily: default_daily(),
            weekly: default_weekly(),
            monthly: 0,
            yearly: 0,
            orphan_grace_period: default_orphan_grace(),
        }
    }
}

fn default_hourly() -> i32 {
    24
}
fn default_daily() -> i32 {
    7
}
fn default_weekly() -> i32 {
    4
}
fn default_orphan_grace() -> String {
    "24h".to_string()
}

/// Scheduled verification of the newest backup: manifest and object present, size
/// sane, SHA-256 recomputed from a download, and fresh enough.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Run verifications.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Cron schedule, in the policy's time zone (daily at 04:00 by default). A run due
    /// while a backup of the policy or its retention runs waits for them (at most half of
    /// `startingDeadlineSeconds`, else an hour), so it checks the backup retention kept.
    #[serde(default = "default_verify_schedule")]
    #[schemars(
        length(min = 1, max = 128),
        regex(
            pattern = crate::common::CRON_PATTERN
        )
    )]
    pub schedule: String,
    /// The newest backup must have completed within this duration. Unset: the backup
    /// schedule's longest gap plus the backup deadline (in use:
    /// `status.effective.maxAge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::common::DURATION_PATTERN))]
    pub max_age: Option<String>,
    /// Optional absolute floor: the stored object must be at least this large (a
    /// quantity such as `1Mi`). Unset: no floor beyond "not empty".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::common::QUANTITY_PATTERN))]
    pub min_size: Option<String>,
    /// The newest backup fails the `NotShrunk` check when it is smaller than
    /// (100 - this)% of the previous backup's stored size (50: less than half).
    #[serde(default = "default_max_shrink_percent")]
    #[schemars(range(min = 1, max = 99))]
    pub max_shrink_percent: i32,
}

impl Default for Verification {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: default_verify_schedule(),
            max_age: None,
            min_size: None,
            max_shrink_percent: default_max_shrink_percent(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_verify_schedule() -> String {
    "0 4 * * *".to_string()
}
fn default_max_shrink_percent() -> i32 {
    50
}

/// A throwaway PostgreSQL server started as a sidecar of the restore-test pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralServer {
    /// PostgreSQL server image; use the source server's major version or newer.
    #[serde(default = "default_pg_image")]
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
}

impl Default for EphemeralServer {
    fn default() -> Self {
        Self {
            image: default_pg_image(),
        }
    }
}

fn default_pg_image() -> String {
    "postgres:17".to_string()
}

/// Where restore tests restore to. Exactly one of `ephemeral` or `existing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.ephemeral) != has(self.existing)").message("set exactly one of ephemeral or existing"),
    validation = Rule::new("!has(self.existing) || !has(self.existing.host) || has(self.existing.database)")
        .message("database is required when host is set")
        .field_path(".existing.database"),
)]
pub struct RestoreTestTarget {
    /// An empty server started for the test and discarded after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralServer>,
    /// An existing server: a temporary database is created there and dropped afterwards,
    /// also on failure. The connection's user needs `CREATEDB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<DatabaseConnection>,
}

impl Default for RestoreTestTarget {
    fn default() -> Self {
        Self {
            ephemeral: Some(EphemeralServer::default()),
            existing: None,
        }
    }
}

/// Periodic automated restore of the newest backup, comparing row counts with its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTest {
    /// Run restore tests.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Cron schedule, in the policy's time zone (05:00 on the 1st of each month by default).
    /// A run due while a backup of the policy or its retention runs waits for them, as a
    /// verification does.
    #[serde(default = "default_restore_test_schedule")]
    #[schemars(
        length(min = 1, max = 128),
        regex(
            pattern = crate::common::CRON_PATTERN
        )
    )]
    pub schedule: String,
    /// Where to restore.
    #[serde(default)]
    pub target: RestoreTestTarget,
    /// age identity (`AGE-SECRET-KEY-1…`) that decrypts the backups, from a Secret key;
    /// required when `spec.encryption` is set. Keeping it in the cluster lets the
    /// cluster read backups: create it only if automated restore tests are worth that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption_identity_secret_ref: Option<SecretKeyRef>,
    /// Maximum run time of the restore-test Job.
    #[serde(default = "default_restore_test_deadline")]
    #[schemars(range(min = 60, max = 604_800))]
    pub deadline_seconds: i64,
    /// Parallel connections of the test restore, as `RestoreRequest.spec.parallelism`
    /// (the measured duration is the one a restore with the same setting achieves).
    /// Unset: the Job's CPU request in whole cores, at least 2 and at most 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub parallelism: Option<u32>,
    /// `sizeLimit` of the spool `emptyDir` of a parallel test restore, as
    /// `RestoreRequest.spec.spoolSizeLimit`. Unset: `10Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::common::QUANTITY_PATTERN))]
    pub spool_size_limit: Option<String>,
}

fn default_restore_test_schedule() -> String {
    "0 5 1 * *".to_string()
}
fn default_restore_test_deadline() -> i64 {
    7_200
}

/// Events that trigger a webhook alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AlertEvent {
    /// A backup run failed.
    BackupFailed,
    /// The newest backup is older than the RPO.
    BackupStale,
    /// A verification failed.
    VerificationFailed,
    /// A restore test failed or found mismatches.
    RestoreTestFailed,
    /// The policy is healthy again after an alert.
    Recovered,
}

/// Alerts to an incoming webhook. The payload carries both `content` (Discord) and
/// `text` (Slack), so either service accepts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    /// Webhook URL, from a Secret key (webhook URLs are credentials).
    pub webhook_url_secret_ref: SecretKeyRef,
    /// Which events alert; all of them when omitted.
    #[serde(default = "all_alert_events")]
    #[schemars(length(min = 1))]
    pub events: Vec<AlertEvent>,
}

fn all_alert_events() -> Vec<AlertEvent> {
    vec![
        AlertEvent::BackupFailed,
        AlertEvent::BackupStale,
        AlertEvent::VerificationFailed,
        AlertEvent::RestoreTestFailed,
        AlertEvent::Recovered,
    ]
}

/// What happens to stored backups when the BackupPolicy is deleted.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum DeletionPolicy {
    /// Keep every stored backup (default).
    #[default]
    Retain,
    /// Delete every object under the policy's prefix before the policy goes.
    Delete,
}
