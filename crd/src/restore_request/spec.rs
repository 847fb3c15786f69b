//! `RestoreRequest` spec: which backup, into which database, how, and what to do around it.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::EnvVar;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::status::RestoreRequestStatus;
use crate::common::{DatabaseConnection, JobTemplate, S3Destination, SecretKeyRef};

/// A one-off, orchestrated restore of a backup into a database: stop writers, restore
/// behind a checksum gate in one transaction, run a post-restore step, verify row
/// counts, restart writers, and record the recovery time actually achieved.
// Each `printcolumn(...)` repeats `type_ = ...`, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tidemark.dev",
    version = "v1alpha1",
    kind = "RestoreRequest",
    plural = "restorerequests",
    singular = "restorerequest",
    shortname = "rr",
    category = "tidemark",
    namespaced,
    status = "RestoreRequestStatus",
    derive = "PartialEq",
    doc = "RestoreRequest restores one backup (latest, an exact key, or the newest before a time) into a target database, stopping writers first and verifying row counts afterwards. Its spec is immutable.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.reason"),
    printcolumn(
        name = "Backup Time",
        type_ = "date",
        json_path = ".status.resolvedBackup.completedAt"
    ),
    printcolumn(
        name = "Backup",
        type_ = "string",
        json_path = ".status.resolvedBackup.key",
        priority = "1"
    ),
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.target.connection.database"
    ),
    printcolumn(
        name = "Verified",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Verified\")].status"
    ),
    printcolumn(name = "Duration", type_ = "string", json_path = ".status.duration"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self == oldSelf").message("RestoreRequest spec is immutable once created; create a new RestoreRequest instead"),
    validation = Rule::new("(has(self.backup.allDatabases) && self.backup.allDatabases) || has(self.target.connection.database) || has(self.target.connection.uriSecretRef)").message("target.connection.database is required (unless backup.allDatabases is true)").field_path(".target"),
    validation = Rule::new("!(has(self.backup.allDatabases) && self.backup.allDatabases) || !has(self.target.connection.database)").message("with backup.allDatabases each database is restored into the database of the same name on the target server: leave target.connection.database unset").field_path(".target"),
    validation = Rule::new("!(has(self.backup.allDatabases) && self.backup.allDatabases) || !has(self.mode) || !has(self.mode.tables) || size(self.mode.tables) == 0").message("mode.tables cannot be combined with backup.allDatabases (restore one database with backup.database instead)").field_path(".mode"),
)]
pub struct RestoreRequestSpec {
    /// Where the backups are.
    pub source: RestoreSource,
    /// age identity (`AGE-SECRET-KEY-1…`) to decrypt encrypted backups, from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption_identity_secret_ref: Option<SecretKeyRef>,
    /// Which backup to restore. Exactly one of `latest`, `key` or `before`.
    pub backup: BackupSelector,
    /// The database to restore into.
    pub target: RestoreTarget,
    /// What to restore.
    #[serde(default)]
    pub mode: RestoreMode,
    /// Workloads scaled to zero before the restore and back to their previous replica
    /// count afterwards, also when the restore fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub stop_writers: Vec<WorkloadRef>,
    /// A step run after the restore and before verification (e.g. schema migrations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_restore: Option<PostRestore>,
    /// Verification after the restore.
    #[serde(default)]
    pub verify: RestoreVerify,
    /// Maximum run time of the whole restore, in seconds.
    #[serde(default = "default_restore_deadline")]
    #[schemars(range(min = 60, max = 604_800))]
    pub deadline_seconds: i64,
    /// Shape of the Jobs that run the runner.
    #[serde(default)]
    pub job_template: JobTemplate,
    /// Parallel connections of a full restore. 2 or more: the restore is built in a side
    /// database while the backup downloads — the schema first, the rows through this
    /// many COPY connections, then indexes and constraints with `pg_restore -j` — and
    /// replaces the target by renaming once the backup's SHA-256 matched and the row
    /// counts agree; the target's own settings, privileges and owner are kept, and its
    /// open sessions are ended at the swap. 1: one stream in one transaction. Unset: the
    /// Job's CPU request in whole cores, at least 2 and at most 8. The restoring role
    /// needs CREATEDB and must own the target for the parallel path; without, the
    /// runner takes the single stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub parallelism: Option<u32>,
    /// `sizeLimit` of the Job's spool `emptyDir` when the restore runs in parallel. It
    /// holds the archive's table of contents (kilobytes to a few megabytes) and its
    /// large objects, never the table data. Unset: `10Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::common::QUANTITY_PATTERN))]
    pub spool_size_limit: Option<String>,
}

fn default_restore_deadline() -> i64 {
    3_600
}

/// A BackupPolicy in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    /// Name of the BackupPolicy.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = crate::common::NAME_PATTERN)
    )]
    pub name: String,
}

/// Backups stored by a policy that may no longer exist (e.g. in another cluster).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExplicitSource {
    /// The bucket and its access.
    pub s3: S3Destination,
    /// Namespace of the policy that wrote the backups (part of the key layout).
    #[schemars(length(min = 1, max = 63))]
    pub policy_namespace: String,
    /// Name of the policy that wrote the backups (part of the key layout).
    #[schemars(length(min = 1, max = 253))]
    pub policy_name: String,
}

/// Where the backups are: exactly one of `policyRef` or `explicit`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.policyRef) != has(self.explicit)").message("set exactly one of source.policyRef or source.explicit"))]
pub struct RestoreSource {
    /// A BackupPolicy in this namespace; its inventory and bucket are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ref: Option<PolicyRef>,
    /// An explicit S3 location, listed by a runner Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit: Option<ExplicitSource>,
}

/// Which backup to restore: exactly one of `latest`, `key` or `before`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.latest) && self.latest ? 1 : 0) + (has(self.key) ? 1 : 0) + (has(self.before) ? 1 : 0) == 1").message("set exactly one of backup.latest (true), backup.key or backup.before"),
    validation = Rule::new("!(has(self.allDatabases) && self.allDatabases) || !has(self.database)").message("set at most one of backup.database and backup.allDatabases"),
)]
pub struct BackupSelector {
    /// The newest backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<bool>,
    /// One exact object key (as listed in the policy's `status.backups`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[^/].*[^/]$"))]
    pub key: Option<String>,
    /// The newest backup completed before this time (RFC 3339), e.g. just before an
    /// accidental deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<DateTime<Utc>>,
    /// The database to restore from a policy that backs up several databases in one
    /// run (`spec.databases`): only that database's backups are chosen from. Required
    /// for `latest` and `before` when the chosen run holds several databases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = crate::backup_policy::databases::DATABASE_NAME_PATTERN)
    )]
    pub database: Option<String>,
    /// Restore every database of the chosen run (a policy with `spec.databases`), each
    /// into the database of the same name on the target server; `latest`, `before` or
    /// `key` (any key of the run) chooses the run. Every target is checked before any
    /// database is changed; each database is restored alone (in its own transaction, or
    /// in parallel through its own side database: `parallelism`), one after the other,
    /// and the status lists what became of each. Not with `database`; leave
    /// `target.connection.database` unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_databases: Option<bool>,
}

impl BackupSelector {
    /// Whether every database of the chosen run is restored.
    pub fn restores_all_databases(&self) -> bool {
        self.all_databases == Some(true)
    }
}

/// The database to restore into.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTarget {
    /// Connection to the target server and database.
    pub connection: DatabaseConnection,
    /// Create the database first if it does not exist (e.g. on a new server after the
    /// old one was lost). The backup's database settings (`ALTER DATABASE … SET`, owner,
    /// encoding, locale) are recreated with it when the backup has a globals object.
    #[serde(default)]
    pub create_database: bool,
    /// Roles the backup's objects are owned by or granted to that the target server
    /// lacks: `Require` (default) fails before anything changes, naming them;
    /// `CreateMissing` creates them from the backup's globals object (attributes,
    /// role settings, memberships among the created roles, password hashes when the
    /// backup could read them) and never alters or drops an existing role. Not needed
    /// with `mode.noOwner` and `mode.noPrivileges`.
    #[serde(default)]
    pub roles: RoleHandling,
}

/// What a restore does about roles the target server lacks.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum RoleHandling {
    /// Fail before anything changes, naming the missing roles.
    #[default]
    Require,
    /// Create the missing roles from the backup's globals object.
    CreateMissing,
}

/// What part of the backup is restored.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum RestoreContent {
    /// Schema and data.
    #[default]
    Full,
    /// Data only, into existing tables (`pg_restore --data-only`).
    DataOnly,
    /// Schema only (`pg_restore --schema-only`).
    SchemaOnly,
}

/// How the restore is done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.clean) || !self.clean || self.content == 'Full'").message("mode.clean: true is only valid with content Full (DataOnly and SchemaOnly never drop objects)").field_path(".clean"),
    validation = Rule::new("!self.truncate || self.content == 'DataOnly'").message("truncate is only valid with content DataOnly").field_path(".truncate"),
)]
pub struct RestoreMode {
    /// `Full` (default), `DataOnly` or `SchemaOnly`.
    #[serde(default)]
    pub content: RestoreContent,
    /// Only these tables (`schema.table`); all tables when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(regex(pattern = r"^[^.\s]+\.[^.\s]+$")))]
    pub tables: Vec<String>,
    /// Full restore: `true` drops the backup's objects before recreating them
    /// (`--clean --if-exists`), which overwrites an existing database. Unset or `false`:
    /// the target must be empty or new; a full restore into a database that already
    /// holds tables fails before anything is touched (reason `TargetNotEmpty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean: Option<bool>,
    /// Empty the restored tables before loading data (DataOnly).
    #[serde(default)]
    pub truncate: bool,
    /// Do not restore object ownership (`pg_restore --no-owner`): objects belong to the
    /// restoring role.
    #[serde(default)]
    pub no_owner: bool,
    /// Do not restore privileges (`pg_restore --no-privileges`): no GRANT or REVOKE.
    #[serde(default)]
    pub no_privileges: bool,
}

impl RestoreMode {
    /// Whether the restore drops the backup's objects first (`Full` with `clean: true`).
    pub fn cleans(&self) -> bool {
        self.content == RestoreContent::Full && self.clean == Some(true)
    }

    /// Whether the target must be empty: a `Full` restore that does not clean.
    pub fn needs_empty_target(&self) -> bool {
        self.content == RestoreContent::Full && !self.cleans()
    }
}

impl Default for RestoreMode {
    fn default() -> Self {
        Self {
            content: RestoreContent::Full,
            tables: Vec::new(),
            clean: None,
            truncate: false,
            no_owner: false,
            no_privileges: false,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Kind of a writer workload.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum WorkloadKind {
    #[default]
    Deployment,
    StatefulSet,
}

/// A Deployment or StatefulSet in the same namespace that writes to the target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    /// `Deployment` or `StatefulSet`.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// Name of the workload.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = crate::common::NAME_PATTERN)
    )]
    pub name: String,
}

/// A command run after the restore, e.g. `python manage.py migrate`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostRestore {
    /// Container image (typically the application's image).
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
    /// Command (entrypoint) to run.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// Arguments to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment, with values or references to Secrets and ConfigMaps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Maximum run time in seconds.
    #[serde(default = "default_post_restore_deadline")]
    #[schemars(range(min = 10, max = 86_400))]
    pub deadline_seconds: i64,
}

fn default_post_restore_deadline() -> i64 {
    900
}

/// Checks after the restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreVerify {
    /// Compare per-table row counts with the backup's manifest; a mismatch fails the restore.
    #[serde(default = "default_true")]
    pub row_counts: bool,
}

impl Default for RestoreVerify {
    fn default() -> Self {
        Self { row_counts: true }
    }
}
