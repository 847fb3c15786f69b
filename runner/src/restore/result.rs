//! The report's restore result, kept well under the 4 KiB report limit. Pure.

use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::contract::result::RestoreResult;

use crate::restore::compare::Comparison;

/// Largest serialised result; the rest of the report (envelope, error message) fits
/// in what remains of 4 KiB.
const MAX_RESULT_BYTES: usize = 2560;

/// What the result is built from.
pub struct Facts<'a> {
    pub manifest: &'a Manifest,
    pub target_database: &'a str,
    pub database_created: bool,
    pub content: &'a str,
    pub tables_restored: usize,
    pub comparison: Comparison,
    pub duration_ms: u64,
}

/// The result, with listed mismatches dropped from the end if it would be too long
/// (`mismatch_count` keeps the total).
pub fn build(f: Facts<'_>) -> RestoreResult {
    let mut r = RestoreResult {
        key: f.manifest.key.clone(),
        sha256: f.manifest.sha256.clone(),
        backup_completed_at: f.manifest.completed_at,
        stored_size: f.manifest.stored_size,
        target_database: f.target_database.to_string(),
        database_created: f.database_created,
        roles_created: Vec::new(),
        database_settings_restored: false,
        content: f.content.to_string(),
        tables_restored: u32::try_from(f.tables_restored).unwrap_or(u32::MAX),
        tables_compared: f.comparison.compared,
        mismatches: f.comparison.listed,
        mismatch_count: f.comparison.count,
        duration_ms: f.duration_ms,
        parallelism: 1,
    };
    while !r.mismatches.is_empty()
        && serde_json::to_string(&r)
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
            > MAX_RESULT_BYTES
    {
        r.mismatches.pop();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_crd::common::TableMismatch;

    #[test]
    fn long_mismatch_lists_are_shortened_to_fit() {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "formatVersion": 1, "policyNamespace": "n", "policyName": "p", "key": "k",
            "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:00Z",
            "storedSize": 1, "rawSize": 1, "sha256": "ab", "dumpFormat": "custom",
            "compression": "zstd", "serverVersion": "15", "serverVersionNum": 150000,
            "pgDumpVersion": "x", "database": "d", "rowCountMode": "exact", "runnerVersion": "0"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let listed: Vec<TableMismatch> = (0..20)
            .map(|i| TableMismatch {
                table: format!("{}.{}{i}", "s".repeat(63), "t".repeat(60)),
                expected: 1,
                actual: 2,
            })
            .collect();
        let r = build(Facts {
            manifest: &manifest,
            target_database: "db",
            database_created: false,
            content: "Full",
            tables_restored: 20,
            comparison: Comparison {
                listed,
                count: 20,
                compared: 20,
            },
            duration_ms: 5,
        });
        assert!(serde_json::to_string(&r).map(|s| s.len()).unwrap_or(0) <= MAX_RESULT_BYTES);
        assert!(!r.mismatches.is_empty() && r.mismatches.len() < 20);
        assert_eq!(r.mismatch_count, 20);
    }
}
