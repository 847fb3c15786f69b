//! The prune report payload, shortened to fit the 4 KiB termination message: the kept
//! list (which the operator shows in status) is cut last, the deleted list first; the
//! counts always stay exact.

use tidemark_crd::contract::keys::{KEY_TIMESTAMP_FORMAT, timestamp_of_key};
use tidemark_crd::contract::result::{KeptBackup, PruneResult};

use crate::retention::{Kept, Tier};

/// Largest serialized prune payload: the rest of the 4 KiB report (command, times,
/// version, a possibly shortened error) fits in what remains.
pub const MAX_PRUNE_JSON: usize = 3000;

/// The report name of a kept backup: its key's timestamp stem, or the object name when
/// it has none.
pub fn stamp(key: &str) -> String {
    match timestamp_of_key(key) {
        Some(t) => t.format(KEY_TIMESTAMP_FORMAT).to_string(),
        None => key.rsplit('/').next().unwrap_or(key).to_string(),
    }
}

/// A tier's name in reports (`newest` for the newest backup overall).
pub fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Latest => "newest",
        other => other.as_str(),
    }
}

/// Kept backups as reported.
pub fn kept(plan: &[Kept]) -> Vec<KeptBackup> {
    plan.iter()
        .map(|k| KeptBackup {
            stamp: stamp(&k.key),
            tiers: k.tiers.iter().map(|t| tier_name(*t).to_string()).collect(),
        })
        .collect()
}

/// Shortens `result`'s lists (deleted first, then kept, oldest entries first) until its
/// JSON is at most `max` bytes, marking it `truncated`.
pub fn fit(mut result: PruneResult, max: usize) -> PruneResult {
    if json_len(&result) <= max {
        return result;
    }
    result.truncated = true;
    // Greedy by item lengths first (one serialisation per item, not per attempt)…
    let base = json_len(&PruneResult {
        kept: Vec::new(),
        deleted: Vec::new(),
        ..result.clone()
    });
    let mut used = base;
    let kept_budget = take_while_fits(&result.kept, &mut used, max, "\"kept\":[],".len());
    result.kept.truncate(kept_budget);
    let deleted_budget = take_while_fits(&result.deleted, &mut used, max, "\"deleted\":[],".len());
    result.deleted.truncate(deleted_budget);
    // …then exactly.
    while json_len(&result) > max {
        if result.deleted.pop().is_none() && result.kept.pop().is_none() {
            break;
        }
    }
    result
}

/// How many leading `items` fit into `max` given `used` bytes so far (updated), with
/// `overhead` bytes for the list's field name once it is non-empty.
fn take_while_fits<T: serde::Serialize>(
    items: &[T],
    used: &mut usize,
    max: usize,
    overhead: usize,
) -> usize {
    let mut count = 0;
    for item in items {
        let extra = serde_json::to_string(item).map(|s| s.len()).unwrap_or(max) + 1;
        let extra = if count == 0 { extra + overhead } else { extra };
        if *used + extra > max {
            break;
        }
        *used += extra;
        count += 1;
    }
    count
}

fn json_len(result: &PruneResult) -> usize {
    serde_json::to_string(result)
        .map(|s| s.len())
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn big() -> PruneResult {
        PruneResult {
            dry_run: false,
            kept: (0..60)
                .map(|i| KeptBackup {
                    stamp: format!("2026010{}T{:02}0000Z", i % 10, i % 24),
                    tiers: vec!["hourly".into(), "daily".into(), "weekly".into()],
                })
                .collect(),
            kept_count: 60,
            deleted: (0..500)
                .map(|i| format!("tidemark/shop/webshop/20250101T{i:06}Z.dump.zst.age"))
                .collect(),
            deleted_count: 500,
            orphans_deleted: 3,
            uploads_aborted: 1,
            bytes_deleted: 123_456_789,
            truncated: false,
            broken_count: 7,
            broken: (0..5)
                .map(|i| format!("tidemark/shop/webshop/20250102T{i:06}Z.dump.zst.age"))
                .collect(),
        }
    }

    #[test]
    fn large_results_are_cut_to_fit_with_exact_counts() {
        let fitted = fit(big(), MAX_PRUNE_JSON);
        let json = serde_json::to_string(&fitted).unwrap();
        assert!(json.len() <= MAX_PRUNE_JSON, "{}", json.len());
        assert!(fitted.truncated);
        assert_eq!(fitted.deleted_count, 500);
        assert_eq!(fitted.kept_count, 60);
        // The kept list wins over the deleted list, newest entries first.
        assert!(fitted.kept.len() > fitted.deleted.len());
        assert_eq!(fitted.kept[0], big().kept[0]);
        // Nearly full: no room for another entry was wasted.
        assert!(json.len() > MAX_PRUNE_JSON - 100, "{}", json.len());
    }

    #[test]
    fn small_results_are_unchanged() {
        let mut small = big();
        small.kept.truncate(3);
        small.deleted.truncate(3);
        assert_eq!(fit(small.clone(), MAX_PRUNE_JSON), small);
    }

    #[test]
    fn stamps_are_the_key_timestamps() {
        assert_eq!(
            stamp("p/ns/web/20261123T140005Z.dump.zst"),
            "20261123T140005Z"
        );
        assert_eq!(stamp("p/ns/web/odd-name"), "odd-name");
    }
}
