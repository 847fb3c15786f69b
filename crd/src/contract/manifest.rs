//! The manifest object: the commit marker written after a backup object completed.
//! A backup without its manifest does not exist for listing, restore or retention.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::backup_policy::{CompressionAlgorithm, DumpFormat, RowCountMode};

/// Current manifest format version. Readers accept this version and older ones.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

/// Everything needed to trust, select and restore one backup object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Manifest format version ([`MANIFEST_FORMAT_VERSION`] when written).
    pub format_version: u32,
    /// Namespace of the BackupPolicy that produced the backup.
    pub policy_namespace: String,
    /// Name of the BackupPolicy that produced the backup.
    pub policy_name: String,
    /// Object key of the backup data object.
    pub key: String,
    /// When the dump started (snapshot taken).
    pub started_at: DateTime<Utc>,
    /// When the data object upload completed.
    pub completed_at: DateTime<Utc>,
    /// Size of the stored object in bytes (after compression and encryption).
    pub stored_size: u64,
    /// Size of the raw `pg_dump` output in bytes.
    pub raw_size: u64,
    /// Lower-case hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// `pg_dump` output format.
    pub dump_format: DumpFormatTag,
    /// Compression applied to the dump stream.
    pub compression: CompressionTag,
    /// Compression level used, when the algorithm has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_level: Option<i32>,
    /// age recipients (public keys) the object is encrypted to; empty when not encrypted.
    #[serde(default)]
    pub encryption_recipients: Vec<String>,
    /// PostgreSQL server version string (`server_version`).
    pub server_version: String,
    /// `server_version_num` of the source server.
    pub server_version_num: u32,
    /// Version string printed by the `pg_dump` that produced the dump.
    pub pg_dump_version: String,
    /// Name of the dumped database.
    pub database: String,
    /// How row counts were taken.
    pub row_count_mode: RowCountModeTag,
    /// Row count per table (`schema.table`), taken inside the dump's snapshot.
    #[serde(default)]
    pub tables: BTreeMap<String, i64>,
    /// Version of the runner that wrote the backup.
    pub runner_version: String,
    /// The roles and database settings the database needs on a new server, saved as a
    /// second object beside the data object (absent in backups written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globals: Option<GlobalsObject>,
    /// The run this backup belongs to, when the policy backs up several databases in
    /// one run (absent for single-database policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
}

/// The run a backup of a multi-database policy belongs to: one run, one timestamp, one
/// object set per database. Inventory groups a run's backups by `id`; retention keeps or
/// deletes a run as one unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    /// Run id: the run's key timestamp (`20261123T140005Z`).
    pub id: String,
    /// When the run started (the timestamp in every key of the run).
    pub started_at: DateTime<Utc>,
    /// Every database the run was meant to cover, in the order backed up. A run is
    /// complete when each of them has a good backup.
    pub databases: Vec<String>,
}

/// The globals object of a backup: a psql script ([`super::keys::globals_key`]) that
/// creates the roles the database references when missing (attributes, role settings,
/// memberships, password hashes when readable) and the database with its settings. It is
/// compressed and encrypted like the data object and stored with the same server-side
/// encryption and storage class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalsObject {
    /// Object key ([`super::keys::globals_key`] of the data key).
    pub key: String,
    /// Size of the stored object in bytes.
    pub stored_size: u64,
    /// Size of the script before compression and encryption.
    pub raw_size: u64,
    /// Lower-case hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Whether role password hashes are in the script (the backup role could read
    /// `pg_authid`) or the roles were saved without passwords.
    pub passwords: PasswordsTag,
    /// The roles saved, by name.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Whether a globals object holds role passwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PasswordsTag {
    /// Password hashes (never clear text) of every saved role that has one.
    Included,
    /// No passwords: the backup role may not read `pg_authid`; set them after a restore.
    Omitted,
}

impl Manifest {
    /// Sum of all per-table row counts.
    pub fn total_rows(&self) -> i64 {
        self.tables.values().sum()
    }

    /// Whether the stored object is age-encrypted.
    pub fn is_encrypted(&self) -> bool {
        !self.encryption_recipients.is_empty()
    }
}

// The manifest records the API's own enums (same lower-case spelling as in a spec); the
// `*Tag` names stay as aliases for the code that reads manifests.

/// `pg_dump` output format recorded in a manifest: the API's [`DumpFormat`].
pub type DumpFormatTag = DumpFormat;
/// Compression recorded in a manifest: the API's [`CompressionAlgorithm`].
pub type CompressionTag = CompressionAlgorithm;
/// Row-count mode recorded in a manifest: the API's [`RowCountMode`].
pub type RowCountModeTag = RowCountMode;
