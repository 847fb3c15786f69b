//! Choosing one backup of an inventory: the newest, an exact key, or the newest
//! completed strictly before a time. Pure: no I/O, no clock.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Entry, Inventory};
use crate::error::{Error, Result};

/// Which backup to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The newest backup (by completion time).
    Latest,
    /// The backup whose data object has this key. The full key, the manifest's key, or
    /// the object name relative to the policy prefix are accepted.
    Key(String),
    /// The newest backup completed strictly before this time.
    Before(DateTime<Utc>),
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Latest => f.write_str("latest"),
            Selector::Key(key) => write!(f, "key {key}"),
            Selector::Before(t) => {
                write!(
                    f,
                    "before {}",
                    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
                )
            }
        }
    }
}

impl Inventory {
    /// The backup `selector` chooses.
    ///
    /// Errors: [`Error::NoBackupFound`] (a check failure) when the inventory is empty or
    /// nothing completed before the time; [`Error::BackupNotFound`] (a configuration
    /// error) when no backup with a manifest has the key.
    pub fn select(&self, selector: &Selector) -> Result<&Entry> {
        match selector {
            Selector::Latest => self.entries.last().ok_or_else(|| Error::NoBackupFound {
                prefix: self.prefix.clone(),
                detail: match self.broken.len() {
                    0 => String::new(),
                    n => format!(" ({n} broken backups, incomplete and not restorable)"),
                },
            }),
            Selector::Key(wanted) => {
                let wanted = wanted.trim();
                let relative = format!("{}{}", self.prefix, wanted.trim_start_matches('/'));
                let matches =
                    |e: &Entry| e.key == wanted || e.manifest_key == wanted || e.key == relative;
                if let Some(broken) = self.broken.iter().find(|b| matches(&b.entry)) {
                    return Err(Error::BackupIncomplete {
                        key: broken.entry.key.clone(),
                        why: broken.why.clone(),
                    });
                }
                self.entries
                    .iter()
                    .find(|e| matches(e))
                    .ok_or_else(|| Error::BackupNotFound {
                        key: wanted.to_string(),
                        prefix: self.prefix.clone(),
                    })
            }
            Selector::Before(t) => self
                .entries
                .iter()
                .rev()
                .find(|e| e.manifest.completed_at < *t)
                .ok_or_else(|| Error::NoBackupFound {
                    prefix: self.prefix.clone(),
                    detail: format!(
                        " completed before {} ({})",
                        t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                        match self.entries.first() {
                            Some(oldest) => format!(
                                "the oldest completed at {}",
                                oldest
                                    .manifest
                                    .completed_at
                                    .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                            ),
                            None => "there are none at all".to_string(),
                        }
                    ),
                }),
        }
    }
}

impl Inventory {
    /// Only the backups (and broken backups) of `database`.
    pub fn of_database(&self, database: &str) -> Inventory {
        let entries = self
            .entries
            .iter()
            .filter(|e| e.manifest.database == database)
            .cloned()
            .collect();
        let broken = self
            .broken
            .iter()
            .filter(|b| b.entry.manifest.database == database)
            .cloned()
            .collect();
        Inventory::from_entries(&self.prefix, entries).with_broken(broken)
    }

    /// The backup `selector` chooses among the backups of `database` (all backups when
    /// `None`). Without a database, `latest` and `before` refuse a backup of a run of
    /// several databases: which database is meant is then ambiguous
    /// ([`Error::Config`] naming the run's databases). A key names one database's object.
    pub fn select_in(&self, selector: &Selector, database: Option<&str>) -> Result<Entry> {
        let database = database.map(str::trim).filter(|d| !d.is_empty());
        if let Some(db) = database {
            let only = self.of_database(db);
            return match only.select(selector) {
                Err(Error::NoBackupFound { prefix, detail }) => Err(Error::NoBackupFound {
                    prefix,
                    detail: format!(" of database {db:?}{detail}"),
                }),
                other => other.cloned(),
            };
        }
        let entry = self.select(selector)?;
        if !matches!(selector, Selector::Key(_))
            && let Some(run) = &entry.manifest.run
            && run.databases.len() > 1
        {
            return Err(Error::config(format!(
                "the {selector} backup belongs to run {} of several databases ({}): name the \
                 database to use (TIDEMARK_BACKUP_DATABASE; a RestoreRequest's backup.database)",
                run.id,
                run.databases.join(", ")
            )));
        }
        Ok(entry.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use tidemark_crd::contract::keys;
    use tidemark_crd::contract::result::ErrorKind;

    use super::*;
    use crate::inventory::fixtures;

    const PREFIX: &str = "b/shop/web/";

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).single().unwrap()
    }

    /// A backup started at `started` that completed at `completed`.
    fn entry(started: DateTime<Utc>, completed: DateTime<Utc>) -> Entry {
        let key = keys::backup_key("b", "shop", "web", started, "dump.zst");
        Entry {
            manifest_key: keys::manifest_key(&key),
            manifest: fixtures::manifest(&key, started, completed, 10),
            key,
        }
    }

    /// Three backups; the one started first completed last (a long run).
    fn inventory() -> Inventory {
        Inventory::from_entries(
            PREFIX,
            vec![
                entry(at(1, 0), at(4, 0)),
                entry(at(2, 0), at(2, 10)),
                entry(at(3, 0), at(3, 10)),
            ],
        )
    }

    #[test]
    fn entries_are_sorted_by_completion_time() {
        let inv = inventory();
        let done: Vec<_> = inv
            .entries()
            .iter()
            .map(|e| e.manifest.completed_at)
            .collect();
        assert_eq!(done, vec![at(2, 10), at(3, 10), at(4, 0)]);
    }

    #[test]
    fn latest_is_the_last_completed_not_the_last_started() {
        let inv = inventory();
        let e = inv.select(&Selector::Latest).unwrap();
        assert_eq!(e.key, "b/shop/web/20260301T010000Z.dump.zst");
    }

    #[test]
    fn before_is_strict_and_picks_the_newest_earlier_backup() {
        let inv = inventory();
        let pick = |t| inv.select(&Selector::Before(t)).map(|e| e.key.clone());
        assert_eq!(
            pick(at(3, 10)).unwrap(),
            "b/shop/web/20260301T020000Z.dump.zst"
        );
        assert_eq!(
            pick(at(3, 11)).unwrap(),
            "b/shop/web/20260301T030000Z.dump.zst"
        );
        assert_eq!(
            pick(at(23, 0)).unwrap(),
            "b/shop/web/20260301T010000Z.dump.zst"
        );
        let err = pick(at(2, 10)).unwrap_err();
        assert_eq!(err.reason(), "NoBackupFound");
        assert_eq!(err.kind(), ErrorKind::Check);
        let text = err.to_string();
        assert!(text.contains("2026-03-01T02:10:00Z"), "{text}");
        assert!(text.contains(PREFIX), "{text}");
    }

    #[test]
    fn key_accepts_the_full_key_the_manifest_key_or_the_name() {
        let inv = inventory();
        let want = "b/shop/web/20260301T020000Z.dump.zst";
        for given in [
            want,
            "b/shop/web/20260301T020000Z.dump.zst.manifest.json",
            "20260301T020000Z.dump.zst",
        ] {
            assert_eq!(inv.select(&Selector::Key(given.into())).unwrap().key, want);
        }
    }

    #[test]
    fn unknown_key_is_a_configuration_error_naming_it() {
        let inv = inventory();
        let err = inv
            .select(&Selector::Key("b/shop/web/20990101T000000Z.dump".into()))
            .unwrap_err();
        assert_eq!(err.reason(), "BackupNotFound");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("20990101T000000Z"));
        // A neighbouring policy's key never matches.
        let err = inv
            .select(&Selector::Key(
                "b/shop/webshop/20260301T020000Z.dump.zst".into(),
            ))
            .unwrap_err();
        assert_eq!(err.reason(), "BackupNotFound");
    }

    #[test]
    fn empty_inventory_has_no_latest() {
        let inv = Inventory::from_entries(PREFIX, vec![]);
        let err = inv.select(&Selector::Latest).unwrap_err();
        assert_eq!(err.reason(), "NoBackupFound");
        assert!(err.to_string().contains(PREFIX));
        let err = inv.select(&Selector::Before(at(1, 0))).unwrap_err();
        assert!(err.to_string().contains("none at all"), "{err}");
    }
}
