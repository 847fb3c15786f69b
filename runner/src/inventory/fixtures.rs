//! Test fixtures: manifests and backups of the policy `shop/web` under the prefix `b`,
//! written into the in-memory store.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use tidemark_crd::contract::keys;
use tidemark_crd::contract::manifest::{CompressionTag, DumpFormatTag, Manifest, RowCountModeTag};

use crate::s3::memory::MemoryStore;

/// The policy prefix of the fixtures.
pub const PREFIX: &str = "b/shop/web/";

/// 2026-03-01 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).single().unwrap()
}

/// The key of the backup of `shop/web` started at `started`.
pub fn key(started: DateTime<Utc>) -> String {
    keys::backup_key("b", "shop", "web", started, "dump.zst")
}

/// The manifest of a backup of `key` with `stored_size` bytes.
pub fn manifest(
    key: &str,
    started: DateTime<Utc>,
    completed: DateTime<Utc>,
    stored_size: u64,
) -> Manifest {
    Manifest {
        format_version: 1,
        policy_namespace: "shop".into(),
        policy_name: "web".into(),
        key: key.to_string(),
        started_at: started,
        completed_at: completed,
        stored_size,
        raw_size: stored_size * 2,
        sha256: "0".repeat(64),
        dump_format: DumpFormatTag::Custom,
        compression: CompressionTag::Zstd,
        compression_level: None,
        encryption_recipients: vec![],
        server_version: "17.0".into(),
        server_version_num: 170000,
        pg_dump_version: "pg_dump (PostgreSQL) 17.0".into(),
        database: "shop".into(),
        row_count_mode: RowCountModeTag::Exact,
        tables: BTreeMap::new(),
        runner_version: "0.1.0".into(),
        globals: None,
        run: None,
    }
}

/// Stores a backup started at `started` and completed 10 minutes later: its manifest
/// (listing 100 bytes) and a data object of `data_size` bytes (none with `None`).
pub fn backup(memory: &MemoryStore, started: DateTime<Utc>, data_size: Option<usize>) -> String {
    let key = key(started);
    let completed = started + chrono::Duration::minutes(10);
    if let Some(size) = data_size {
        memory.insert(&key, vec![1u8; size], completed);
    }
    let body = serde_json::to_vec(&manifest(&key, started, completed, 100)).unwrap();
    memory.insert(&keys::manifest_key(&key), body, completed);
    key
}
