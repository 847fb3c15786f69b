//! Runs: the backups of one run of a multi-database policy (same `run.id` in their
//! manifests) form one unit for retention. A backup without a run section (a
//! single-database policy) is a run of its own, so single-database retention is exactly
//! [`crate::retention::plan`] over the backups.
//!
//! The rule for runs:
//! - A run is *complete* when every database its manifests list in `run.databases` has
//!   a good backup (manifest and data present). Only complete runs take part in the
//!   grandfather-father-son tiers, each counted once (at its last completion).
//! - A *partial* run (some databases failed or are broken) keeps its good backups
//!   restorable. It is in no tier; it is kept (as `latest`) while no newer complete run
//!   exists, and deleted as a whole once one does.
//! - Keeping or deleting applies to every backup of the run.
//!
//! Pure: no I/O, no clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Entry, Inventory};
use crate::retention::{Backup, Kept, RetentionPlan, RetentionPolicy, Tier, plan};

/// One run: its backups (good ones), and whether every database it meant to cover has
/// one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run<'a> {
    /// The run id, or the backup's key for a backup without a run section.
    pub id: String,
    /// The newest completion among its backups.
    pub completed_at: DateTime<Utc>,
    pub entries: Vec<&'a Entry>,
    /// Databases the run meant to cover that have no good backup in it.
    pub missing: Vec<String>,
}

impl Run<'_> {
    /// Whether every database of the run has a good backup.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

impl Inventory {
    /// The runs of the good backups, oldest first (by completion, then id).
    pub fn runs(&self) -> Vec<Run<'_>> {
        let mut by_id: BTreeMap<String, Run<'_>> = BTreeMap::new();
        let mut meant: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &self.entries {
            let id = run_id(e);
            let run = by_id.entry(id.clone()).or_insert_with(|| Run {
                id: id.clone(),
                completed_at: e.manifest.completed_at,
                entries: Vec::new(),
                missing: Vec::new(),
            });
            run.completed_at = run.completed_at.max(e.manifest.completed_at);
            run.entries.push(e);
            if let Some(r) = &e.manifest.run {
                let list = meant.entry(id).or_default();
                for d in &r.databases {
                    if !list.contains(d) {
                        list.push(d.clone());
                    }
                }
            }
        }
        let mut runs: Vec<Run<'_>> = by_id
            .into_values()
            .map(|mut run| {
                if let Some(dbs) = meant.get(&run.id) {
                    run.missing = dbs
                        .iter()
                        .filter(|d| !run.entries.iter().any(|e| &e.manifest.database == *d))
                        .cloned()
                        .collect();
                }
                run
            })
            .collect();
        runs.sort_by(|a, b| (a.completed_at, &a.id).cmp(&(b.completed_at, &b.id)));
        runs
    }

    /// The retention plan over runs (see the module docs), expanded to backup keys:
    /// every good backup is in exactly one of `keep` and `delete`.
    pub fn retention_plan(&self, policy: &RetentionPolicy, tz: Tz) -> RetentionPlan {
        let runs = self.runs();
        let complete: Vec<Backup> = runs
            .iter()
            .filter(|r| r.complete())
            .map(|r| Backup::new(r.id.clone(), r.completed_at))
            .collect();
        let by_run = plan(&complete, policy, tz);
        let newest_complete = complete.iter().map(|b| b.completed_at).max();
        let mut result = RetentionPlan::default();
        let mut deleted: Vec<(DateTime<Utc>, String)> = Vec::new();
        for run in &runs {
            let tiers: Option<Vec<Tier>> = if run.complete() {
                by_run.tiers_of(&run.id).map(<[Tier]>::to_vec)
            } else if newest_complete.is_none_or(|t| run.completed_at > t) {
                Some(vec![Tier::Latest])
            } else {
                None
            };
            for e in &run.entries {
                match &tiers {
                    Some(tiers) => result.keep.push(Kept {
                        key: e.key.clone(),
                        completed_at: e.manifest.completed_at,
                        tiers: tiers.clone(),
                    }),
                    None => deleted.push((e.manifest.completed_at, e.key.clone())),
                }
            }
        }
        result
            .keep
            .sort_by(|a, b| (b.completed_at, &b.key).cmp(&(a.completed_at, &a.key)));
        deleted.sort_by(|a, b| b.cmp(a));
        result.delete = deleted.into_iter().map(|(_, k)| k).collect();
        result
    }
}

/// The run a backup belongs to: its manifest's run id, or its own key.
fn run_id(e: &Entry) -> String {
    match &e.manifest.run {
        Some(r) => format!("run {}", r.id),
        None => e.key.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;
    use tidemark_crd::contract::manifest::RunInfo;

    use super::*;
    use crate::inventory::fixtures::manifest;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    fn entry(h: u32, db: &str, all: &[&str]) -> Entry {
        let key = format!("b/ns/p/{}.{db}.dump.zst", at(h).format("%Y%m%dT%H%M%SZ"));
        let mut m = manifest(&key, at(h), at(h) + chrono::Duration::seconds(2), 10);
        m.database = db.into();
        m.run = Some(RunInfo {
            id: at(h).format("%Y%m%dT%H%M%SZ").to_string(),
            started_at: at(h),
            databases: all.iter().map(|d| d.to_string()).collect(),
        });
        Entry {
            manifest_key: format!("{key}.manifest.json"),
            key,
            manifest: m,
        }
    }

    fn hourly(n: u32) -> RetentionPolicy {
        RetentionPolicy {
            hourly: n,
            ..RetentionPolicy::default()
        }
    }

    #[test]
    fn a_run_is_kept_or_deleted_whole_and_counts_once() {
        let dbs = ["a", "b", "c"];
        let entries: Vec<Entry> = (1..=3)
            .flat_map(|h| dbs.iter().map(move |d| entry(h, d, &dbs)))
            .collect();
        let inv = Inventory::from_entries("b/ns/p/", entries);
        assert_eq!(inv.runs().len(), 3);
        // Two hourly slots: two whole runs (six backups), not two backups.
        let plan = inv.retention_plan(&hourly(2), Tz::UTC);
        assert_eq!(plan.keep.len(), 6);
        assert_eq!(plan.delete.len(), 3);
        assert!(plan.delete.iter().all(|k| k.contains("T010000Z")));
    }

    #[test]
    fn a_partial_run_is_in_no_tier_and_kept_until_a_newer_complete_run() {
        let dbs = ["a", "b", "c"];
        let mut entries = vec![
            entry(1, "a", &dbs),
            entry(1, "b", &dbs),
            entry(1, "c", &dbs),
        ];
        // The run at 02:00 lost database c.
        entries.extend([entry(2, "a", &dbs), entry(2, "b", &dbs)]);
        let inv = Inventory::from_entries("b/ns/p/", entries.clone());
        let runs = inv.runs();
        assert_eq!(runs[1].missing, vec!["c".to_string()]);
        let plan = inv.retention_plan(&hourly(1), Tz::UTC);
        // The partial run is the newest: kept as latest; the complete one by its tier.
        assert!(plan.delete.is_empty(), "{plan:?}");
        assert_eq!(plan.tiers_of(&entries[3].key), Some(&[Tier::Latest][..]));
        assert_eq!(
            plan.tiers_of(&entries[0].key),
            Some(&[Tier::Latest, Tier::Hourly][..])
        );
        // A newer complete run: the partial run goes as a whole.
        entries.extend(dbs.iter().map(|d| entry(3, d, &dbs)));
        let plan = Inventory::from_entries("b/ns/p/", entries).retention_plan(&hourly(5), Tz::UTC);
        assert_eq!(plan.delete.len(), 2, "{plan:?}");
        assert!(plan.delete.iter().all(|k| k.contains("T020000Z")));
        assert_eq!(plan.keep.len(), 6);
    }

    #[test]
    fn single_database_backups_plan_exactly_as_before() {
        let entries: Vec<Entry> = (1..=4)
            .map(|h| {
                let key = format!("b/ns/p/{}.dump.zst", at(h).format("%Y%m%dT%H%M%SZ"));
                Entry {
                    manifest_key: format!("{key}.manifest.json"),
                    manifest: manifest(&key, at(h), at(h), 10),
                    key,
                }
            })
            .collect();
        let inv = Inventory::from_entries("b/ns/p/", entries);
        let policy = hourly(2);
        assert_eq!(
            inv.retention_plan(&policy, Tz::UTC),
            plan(&inv.backups(), &policy, Tz::UTC)
        );
    }
}
