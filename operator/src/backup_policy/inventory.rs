//! The retained-backup inventory in `status.backups`, kept from runner results:
//! backups add entries, retention (prune) sets tiers and removes what it deleted,
//! verification marks entries verified or failed.

use chrono::{DateTime, Utc};
use tidemark_crd::backup_policy::{InventoryEntry, RestoreWindow, VerificationState};
use tidemark_crd::contract::result::{BackupResult, PruneResult, VerifyResult};

/// At most this many entries are listed (retention normally keeps far fewer).
pub const MAX_INVENTORY: usize = 200;

/// The timestamp stem of a key's file name (`20261123T140005Z`), as prune reports name
/// kept backups.
pub fn stamp_of_key(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.split('.').next().unwrap_or(name)
}

fn sort_and_bound(inv: &mut Vec<InventoryEntry>) {
    inv.sort_by(|a, b| (b.completed_at, &b.key).cmp(&(a.completed_at, &a.key)));
    inv.dedup_by(|a, b| a.key == b.key);
    inv.truncate(MAX_INVENTORY);
}

/// Adds a successful backup (newest first; a known key is replaced).
pub fn add_backup(inv: &mut Vec<InventoryEntry>, b: &BackupResult) {
    let verification = inv
        .iter()
        .find(|e| e.key == b.key)
        .map(|e| e.verification)
        .unwrap_or_default();
    inv.retain(|e| e.key != b.key);
    inv.push(InventoryEntry {
        key: b.key.clone(),
        completed_at: b.completed_at,
        stored_bytes: i64::try_from(b.stored_size).unwrap_or(i64::MAX),
        sha256: b.sha256.clone(),
        tiers: vec!["newest".to_string()],
        verification,
        run: b.run_id.clone(),
    });
    // Only the newest entry carries the `newest` tier until retention says otherwise.
    sort_and_bound(inv);
    for e in inv.iter_mut().skip(1) {
        e.tiers.retain(|t| t != "newest");
    }
}

/// Applies a retention run that started at `started`: deleted keys go, kept ones get
/// their tiers. When the report lists every kept backup (not truncated, not a dry run),
/// entries older than the run that it did not keep are gone too; backups completed after
/// the run started were not seen by it and stay.
pub fn apply_prune(inv: &mut Vec<InventoryEntry>, p: &PruneResult, started: DateTime<Utc>) {
    if p.dry_run {
        return;
    }
    let deleted: Vec<&str> = p.deleted.iter().map(|k| stamp_of_key(k)).collect();
    inv.retain(|e| !deleted.contains(&stamp_of_key(&e.key)));
    for e in inv.iter_mut() {
        let stamp = stamp_of_key(&e.key);
        if let Some(k) = p.kept.iter().find(|k| k.stamp == stamp) {
            e.tiers = k.tiers.clone();
        }
    }
    if !p.truncated {
        inv.retain(|e| {
            e.completed_at >= started || p.kept.iter().any(|k| k.stamp == stamp_of_key(&e.key))
        });
    }
    sort_and_bound(inv);
}

/// Marks the verified backup.
pub fn apply_verify(inv: &mut [InventoryEntry], v: &VerifyResult) {
    let Some(key) = &v.key else { return };
    let state = if v.passed() {
        VerificationState::Verified
    } else {
        VerificationState::Failed
    };
    for e in inv.iter_mut().filter(|e| &e.key == key) {
        e.verification = state;
    }
}

/// Oldest and newest restorable points.
pub fn window(inv: &[InventoryEntry]) -> Option<RestoreWindow> {
    let oldest = inv.iter().map(|e| e.completed_at).min()?;
    let newest = inv.iter().map(|e| e.completed_at).max()?;
    Some(RestoreWindow { oldest, newest })
}
