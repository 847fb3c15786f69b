//! Choosing the backup to restore from a policy's inventory (`status.backups` and
//! `status.lastBackup`): the newest, an exact key, or the newest completed strictly
//! before a time — the same rules as the runner's `list` selection.

use chrono::{DateTime, Utc};
use tidemark_crd::backup_policy::BackupPolicyStatus;
use tidemark_crd::contract::result::ListedBackup;
use tidemark_crd::restore_request::{BackupSelector, ResolvedBackup};

/// What `spec.backup` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection<'a> {
    Latest,
    Key(&'a str),
    Before(DateTime<Utc>),
}

impl<'a> Selection<'a> {
    /// The selection of a spec (`key` wins over `before`; neither means latest — the
    /// CRD's rule admits exactly one).
    pub fn of(sel: &'a BackupSelector) -> Self {
        match (&sel.key, sel.before) {
            (Some(key), _) => Selection::Key(key),
            (None, Some(before)) => Selection::Before(before),
            (None, None) => Selection::Latest,
        }
    }

    /// Why nothing matched, naming the field.
    pub fn no_match(&self, location: &str) -> String {
        match self {
            Selection::Latest => format!("backup.latest: there is no backup in {location}"),
            Selection::Key(key) => format!("backup.key: no backup {key:?} in {location}"),
            Selection::Before(t) => format!(
                "backup.before: no backup in {location} completed before {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// Whether an inventory key is the one asked for: the full key, or its name under the
/// policy prefix.
fn key_matches(stored: &str, wanted: &str) -> bool {
    stored == wanted
        || stored
            .strip_suffix(wanted)
            .is_some_and(|head| head.ends_with('/'))
}

/// Chooses from the inventory; `None` when nothing matches (the inventory may lag
/// behind the bucket, so the caller asks the runner before giving up). A request for
/// one database of a multi-database policy, or a choice that falls on a run of several
/// databases, is left to the runner's `list` (the inventory holds one entry per run).
pub fn from_inventory(
    sel: Selection<'_>,
    database: Option<&str>,
    status: &BackupPolicyStatus,
) -> Option<ResolvedBackup> {
    if database.is_some() || status.backups.iter().any(|b| b.run.is_some()) {
        return None;
    }
    let mut candidates: Vec<ResolvedBackup> = status
        .backups
        .iter()
        .map(|b| ResolvedBackup {
            key: b.key.clone(),
            completed_at: b.completed_at,
            sha256: b.sha256.clone(),
            stored_bytes: Some(b.stored_bytes),
        })
        .collect();
    if let Some(last) = &status.last_backup
        && !candidates.iter().any(|c| c.key == last.key)
    {
        candidates.push(ResolvedBackup {
            key: last.key.clone(),
            completed_at: last.completed_at,
            sha256: last.sha256.clone(),
            stored_bytes: Some(last.stored_bytes),
        });
    }
    candidates
        .into_iter()
        .filter(|c| match sel {
            Selection::Latest => true,
            Selection::Key(key) => key_matches(&c.key, key),
            Selection::Before(t) => c.completed_at < t,
        })
        .max_by(|a, b| (a.completed_at, &a.key).cmp(&(b.completed_at, &b.key)))
}

/// The backup a runner `list` run selected.
pub fn from_listed(b: &ListedBackup) -> ResolvedBackup {
    ResolvedBackup {
        key: b.key.clone(),
        completed_at: b.completed_at,
        sha256: b.sha256.clone(),
        stored_bytes: i64::try_from(b.stored_size).ok(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tidemark_crd::backup_policy::InventoryEntry;

    use super::*;

    fn inventory() -> BackupPolicyStatus {
        let entry = |key: &str, at: &str| InventoryEntry {
            key: key.into(),
            completed_at: at.parse().unwrap(),
            sha256: key.into(),
            ..InventoryEntry::default()
        };
        BackupPolicyStatus {
            backups: vec![
                entry("p/ns/pol/20261123T090000Z.dump.zst", "2026-11-23T09:00:30Z"),
                entry("p/ns/pol/20261123T080000Z.dump.zst", "2026-11-23T08:00:30Z"),
            ],
            ..BackupPolicyStatus::default()
        }
    }

    #[test]
    fn a_key_matches_in_full_or_by_its_name_under_the_policy_prefix_only() {
        let inv = inventory();
        for wanted in [
            "p/ns/pol/20261123T080000Z.dump.zst",
            "20261123T080000Z.dump.zst",
        ] {
            let b = from_inventory(Selection::Key(wanted), None, &inv).unwrap();
            assert_eq!(b.key, "p/ns/pol/20261123T080000Z.dump.zst");
        }
        assert!(from_inventory(Selection::Key("0000Z.dump.zst"), None, &inv).is_none());
    }

    #[test]
    fn before_is_strict_and_latest_is_the_newest() {
        let inv = inventory();
        let at = "2026-11-23T09:00:30Z".parse().unwrap();
        let b = from_inventory(Selection::Before(at), None, &inv).unwrap();
        assert_eq!(b.key, "p/ns/pol/20261123T080000Z.dump.zst");
        let b = from_inventory(Selection::Latest, None, &inv).unwrap();
        assert_eq!(b.key, "p/ns/pol/20261123T090000Z.dump.zst");
        let early = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(from_inventory(Selection::Before(early), None, &inv).is_none());
        assert!(from_inventory(Selection::Latest, None, &BackupPolicyStatus::default()).is_none());
    }

    #[test]
    fn one_database_of_a_run_is_resolved_by_the_runner_not_the_inventory() {
        let mut inv = inventory();
        assert!(from_inventory(Selection::Latest, Some("shop"), &inv).is_none());
        inv.backups[0].run = Some("20261123T090000Z".into());
        assert!(from_inventory(Selection::Latest, None, &inv).is_none());
    }
}
