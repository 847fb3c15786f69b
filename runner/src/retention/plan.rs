//! The grandfather-father-son decision: which backups to keep, by which tiers, and
//! which to delete.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::period::{Period, period_of};
use super::{Backup, RetentionPolicy, Tier};

/// A backup the policy keeps, and every tier that keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kept {
    /// Key of the backup data object.
    pub key: String,
    /// When the backup completed.
    pub completed_at: DateTime<Utc>,
    /// The tiers keeping it, never empty, in [`Tier::ALL`] order.
    pub tiers: Vec<Tier>,
}

/// The outcome of [`plan`]: every input key is in exactly one of `keep` and `delete`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPlan {
    /// Kept backups, newest first.
    pub keep: Vec<Kept>,
    /// Keys of the backups to delete, newest first.
    pub delete: Vec<String>,
}

impl RetentionPlan {
    /// The tiers keeping `key`, or `None` when the plan does not keep it.
    pub fn tiers_of(&self, key: &str) -> Option<&[Tier]> {
        self.keep
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.tiers.as_slice())
    }

    /// Whether the plan keeps `key`.
    pub fn keeps(&self, key: &str) -> bool {
        self.tiers_of(key).is_some()
    }

    /// The kept backups that `tier` keeps, newest first.
    pub fn kept_by(&self, tier: Tier) -> impl Iterator<Item = &Kept> + '_ {
        self.keep.iter().filter(move |k| k.tiers.contains(&tier))
    }
}

/// Decides which backups `policy` keeps in time zone `tz`; see the module docs for the
/// rule. Pure and deterministic: the input order does not matter.
pub fn plan(backups: &[Backup], policy: &RetentionPolicy, tz: Tz) -> RetentionPlan {
    let newest_first = newest_first(backups);
    let mut tiers: Vec<Vec<Tier>> = vec![Vec::new(); newest_first.len()];
    if let Some(first) = tiers.first_mut() {
        first.push(Tier::Latest);
    }
    for tier in Tier::PERIODIC {
        let wanted = usize::try_from(policy.count(tier)).unwrap_or(usize::MAX);
        if wanted == 0 {
            continue;
        }
        // Walking newest first, the first backup seen in a period is its newest, and
        // periods appear from the most recent backwards.
        let mut seen: BTreeSet<Period> = BTreeSet::new();
        for (index, (_, at)) in newest_first.iter().enumerate() {
            if seen.len() == wanted {
                break;
            }
            if let Some(period) = period_of(tier, *at, tz)
                && seen.insert(period)
                && let Some(slot) = tiers.get_mut(index)
            {
                slot.push(tier);
            }
        }
    }

    let mut result = RetentionPlan::default();
    for ((key, at), mut by) in newest_first.into_iter().zip(tiers) {
        if by.is_empty() {
            result.delete.push(key.to_owned());
        } else {
            by.sort_unstable();
            result.keep.push(Kept {
                key: key.to_owned(),
                completed_at: at,
                tiers: by,
            });
        }
    }
    result
}

/// Distinct keys with their (latest) completion time, newest first; equal times are
/// ordered by key, the greater key counting as newer.
fn newest_first(backups: &[Backup]) -> Vec<(&str, DateTime<Utc>)> {
    let mut by_key: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for backup in backups {
        let at = by_key
            .entry(backup.key.as_str())
            .or_insert(backup.completed_at);
        *at = (*at).max(backup.completed_at);
    }
    let mut list: Vec<(&str, DateTime<Utc>)> = by_key.into_iter().collect();
    list.sort_unstable_by(|a, b| (b.1, b.0).cmp(&(a.1, a.0)));
    list
}
