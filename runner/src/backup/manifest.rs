//! Building the manifest (the commit marker) and the report's backup result from what
//! a run produced. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tidemark_crd::contract::manifest::{MANIFEST_FORMAT_VERSION, Manifest, RunInfo};
use tidemark_crd::contract::result::BackupResult;

use crate::backup::settings::{Settings, compression_tag, format_tag, row_count_tag};
use crate::pg::snapshot::ServerInfo;
use crate::pipeline::stream::StreamTotals;

/// Version of this runner, recorded in manifests and reports.
pub const RUNNER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What goes into a manifest.
pub struct Inputs<'a> {
    pub settings: &'a Settings,
    pub server: &'a ServerInfo,
    pub key: &'a str,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub totals: &'a StreamTotals,
    pub pg_dump_version: &'a str,
    pub tables: BTreeMap<String, i64>,
    /// The run, for a policy of several databases.
    pub run: Option<RunInfo>,
}

/// The manifest of a completed data object.
pub fn build(i: Inputs<'_>) -> Manifest {
    Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        policy_namespace: i.settings.policy.namespace.clone(),
        policy_name: i.settings.policy.name.clone(),
        key: i.key.to_string(),
        started_at: i.started_at,
        completed_at: i.completed_at,
        stored_size: i.totals.stored.bytes,
        raw_size: i.totals.raw_bytes,
        sha256: i.totals.stored.sha256.clone(),
        dump_format: format_tag(i.settings.dump.format),
        compression: compression_tag(i.settings.dump.compression),
        compression_level: i.settings.compression.level,
        encryption_recipients: i
            .settings
            .recipients
            .iter()
            .map(|r| r.to_string())
            .collect(),
        server_version: i.server.version.clone(),
        server_version_num: i.server.version_num,
        pg_dump_version: i.pg_dump_version.to_string(),
        database: i.server.database.clone(),
        row_count_mode: row_count_tag(i.settings.dump.row_count_mode),
        tables: i.tables,
        runner_version: RUNNER_VERSION.to_string(),
        globals: None,
        run: i.run,
    }
}

/// The report's summary of a committed backup.
pub fn result(m: &Manifest, manifest_key: String, duration_ms: u64) -> BackupResult {
    BackupResult {
        key: m.key.clone(),
        manifest_key,
        stored_size: m.stored_size,
        raw_size: m.raw_size,
        sha256: m.sha256.clone(),
        total_rows: m.total_rows(),
        table_count: u32::try_from(m.tables.len()).unwrap_or(u32::MAX),
        started_at: m.started_at,
        completed_at: m.completed_at,
        duration_ms,
        server_version: m.server_version.clone(),
        pg_dump_version: m.pg_dump_version.clone(),
        database: m.database.clone(),
        run_id: m.run.as_ref().map(|r| r.id.clone()),
        databases: Vec::new(),
        databases_omitted: 0,
    }
}
