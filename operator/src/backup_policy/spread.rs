//! `spec.scheduleSpreadSeconds`: each policy's fire times moved later by a fixed offset
//! in `0..=spread`, derived from a hash of the policy's namespace, name and uid, so a fleet
//! of policies with the same schedule does not start every backup in the same second.
//!
//! Pure and deterministic: every replica and every restart computes the same offset for
//! the same policy (SHA-256, not the process-seeded std hasher), so Job names, which
//! derive from the scheduled time, stay the same. A policy deleted and created again
//! (new uid) gets a new offset.

use chrono::Duration;
use kube::ResourceExt;
use sha2::{Digest, Sha256};
use tidemark_crd::BackupPolicy;

use super::validate::ParsedSpec;

/// The largest spread accepted (the CRD bounds the field to this too).
pub const MAX_SPREAD_SECONDS: i64 = 3600;

/// The offset of the policy `namespace/name` (uid `uid`) within `0..=spread_seconds`
/// whole seconds (`spread_seconds` is clamped to `0..=`[`MAX_SPREAD_SECONDS`]).
pub fn offset(namespace: &str, name: &str, uid: &str, spread_seconds: i64) -> Duration {
    let spread = spread_seconds.clamp(0, MAX_SPREAD_SECONDS);
    if spread == 0 {
        return Duration::zero();
    }
    let mut h = Sha256::new();
    for part in [namespace, name, uid] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let range = u64::try_from(spread).unwrap_or(0) + 1;
    Duration::seconds(i64::try_from(u64::from_be_bytes(first) % range).unwrap_or(0))
}

/// The offset of `policy` from its `spec.scheduleSpreadSeconds` (zero when unset).
pub fn offset_of(policy: &BackupPolicy) -> Duration {
    let spread = policy.spec.schedule_spread_seconds.unwrap_or(0);
    offset(
        &policy.namespace().unwrap_or_default(),
        &policy.name_any(),
        &policy.uid().unwrap_or_default(),
        i64::from(spread),
    )
}

/// `parsed` with every schedule (backup, verification, restore test) spread by `offset`.
pub fn apply(mut parsed: ParsedSpec<'_>, offset: Duration) -> ParsedSpec<'_> {
    parsed.backup = parsed.backup.spread_by(offset);
    parsed.verification = parsed.verification.map(|s| s.spread_by(offset));
    parsed.restore_test = parsed.restore_test.map(|s| s.spread_by(offset));
    parsed
}
