//! Retention decisions for `prune` and for the operator's inventory: which backups a
//! policy keeps (and by which tiers), which it deletes, and which stray objects and
//! multipart uploads under the policy's prefix may be cleaned up.
//!
//! Everything here is a pure function: no I/O, no clock. The caller lists the bucket,
//! reads the manifests, passes plain data in, and acts on the returned plan.
//!
//! # Grandfather-father-son ([`plan`])
//!
//! For each tier whose count `N` is greater than zero, the backups are grouped by the
//! tier's period, computed in the policy's time zone, and the newest backup of each of
//! the `N` most recent periods *that have a backup* is kept. Empty periods (a missed
//! day, a paused schedule) do not use up a slot. "Most recent" is decided by walking the
//! backups from the newest down and counting periods as they first appear (the
//! restic/borg algorithm); as every period is one contiguous stretch of time, this is the
//! calendar order of the periods. Tiers are independent: one backup can be kept by
//! several tiers, and [`Kept::tiers`] lists all of them. The newest backup overall is
//! always kept, by the [`Tier::Latest`] tier, even when every count is zero.
//!
//! | tier | period |
//! |---|---|
//! | hourly | local wall-clock hour, told apart by UTC offset |
//! | daily | local calendar day |
//! | weekly | ISO 8601 week (Monday to Sunday) of the local date |
//! | monthly | local calendar month |
//! | yearly | local calendar year |
//!
//! Ordering: backups are ordered by `completed_at`, then by key (lexicographically
//! greater key counts as newer when two completion times are equal), so the plan is
//! deterministic whatever the input order. If the same key appears twice, it is one
//! backup with the later of the two times. The function takes no "now": a backup
//! completed "in the future" (clock skew) is just the newest backup.
//!
//! ## Daylight saving time
//!
//! Periods are wall-clock periods of the policy's time zone:
//! - *Fall back* (e.g. `America/New_York`, 2026-11-01, 01:00–01:59 happens twice): the
//!   two local `01:xx` hours are two distinct hourly periods, because an hour is
//!   identified by the instant at which its local hour starts together with the UTC
//!   offset in force (`01:00-04:00` and `01:00-05:00` are different), never by the bare
//!   local `date + hour`. Two distinct real hours never merge. That local day has 25
//!   hours and is still one daily period.
//! - *Spring forward* (e.g. `Europe/Berlin`, 2026-03-29, 02:00–02:59 never happens):
//!   nothing special; the missing hour simply has no backups, and the day has 23 hours.
//! - Offsets that are not whole hours (`Asia/Kolkata` +05:30, `Asia/Kathmandu` +05:45,
//!   the 30-minute DST shift of `Australia/Lord_Howe`) work the same way: hours start at
//!   local `:00`, whatever that is in UTC. Where a zone changes offset in the middle of
//!   a local hour (`Pacific/Chatham`, at `:45`), the part of the hour before the change
//!   and the part after it are two hourly periods.
//!
//! # Orphans and stale uploads ([`find_orphans`], [`stale_uploads`])
//!
//! Only direct children of the policy prefix `<prefix>/<namespace>/<policy>/` are
//! ever considered; `ns/policy/` never matches `ns/policy-2/...` nor `ns/policy/sub/...`.
//! A data object whose manifest is missing is an orphan (a failed or interrupted backup)
//! and is selected for deletion once it is older than the grace period. A manifest whose
//! data object is missing is a *broken backup*: it is reported, never deleted
//! automatically, because it records that a backup existed and a person must look.
//! Objects under the prefix whose names do not start with the key timestamp are left
//! alone and reported as unrecognized.
//!
//! # For the caller
//!
//! - [`plan`] does not look at keys: pass only backups of this policy (manifests listed
//!   under its [`PolicyPrefix`]).
//! - Delete a backup's manifest before its data object: if the run stops in between,
//!   what remains is an orphan that a later run removes, not a broken backup.
//! - A multipart object's last-modified time is when its upload began, so the orphan
//!   grace must exceed the longest backup run (the Job's deadline); otherwise a backup
//!   between upload completion and manifest write could be taken for an orphan.

mod orphans;
mod period;
mod plan;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tidemark_crd::contract::manifest::Manifest;

pub use orphans::{
    MultipartUpload, OrphanReport, PolicyPrefix, PrefixError, StoredObject, find_orphans,
    stale_uploads,
};
pub use plan::{Kept, RetentionPlan, plan};

/// A completed backup: one that has a manifest (a backup without a manifest does not
/// exist for retention).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// Key of the backup data object.
    pub key: String,
    /// When the backup completed (from its manifest).
    pub completed_at: DateTime<Utc>,
}

impl Backup {
    /// A backup with the given key and completion time.
    pub fn new(key: impl Into<String>, completed_at: DateTime<Utc>) -> Self {
        Self {
            key: key.into(),
            completed_at,
        }
    }
}

impl From<&Manifest> for Backup {
    /// The backup a manifest commits: its data object key and completion time.
    fn from(manifest: &Manifest) -> Self {
        Self::new(manifest.key.clone(), manifest.completed_at)
    }
}

/// How many periods of each tier to keep. Zero disables a tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetentionPolicy {
    /// Number of most recent local hours to keep the newest backup of.
    pub hourly: u32,
    /// Number of most recent local calendar days to keep the newest backup of.
    pub daily: u32,
    /// Number of most recent ISO weeks (Monday start) to keep the newest backup of.
    pub weekly: u32,
    /// Number of most recent calendar months to keep the newest backup of.
    pub monthly: u32,
    /// Number of most recent calendar years to keep the newest backup of.
    pub yearly: u32,
}

impl RetentionPolicy {
    /// The count configured for a tier; [`Tier::Latest`] always counts one.
    pub fn count(&self, tier: Tier) -> u32 {
        match tier {
            Tier::Latest => 1,
            Tier::Hourly => self.hourly,
            Tier::Daily => self.daily,
            Tier::Weekly => self.weekly,
            Tier::Monthly => self.monthly,
            Tier::Yearly => self.yearly,
        }
    }
}

/// A reason a backup is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The newest backup overall, kept unconditionally.
    Latest,
    /// Newest backup of one of the most recent local hours.
    Hourly,
    /// Newest backup of one of the most recent local days.
    Daily,
    /// Newest backup of one of the most recent ISO weeks.
    Weekly,
    /// Newest backup of one of the most recent months.
    Monthly,
    /// Newest backup of one of the most recent years.
    Yearly,
}

impl Tier {
    /// All tiers, in the order they are listed in [`Kept::tiers`].
    pub const ALL: [Tier; 6] = [
        Tier::Latest,
        Tier::Hourly,
        Tier::Daily,
        Tier::Weekly,
        Tier::Monthly,
        Tier::Yearly,
    ];

    /// The tiers that group backups by calendar period (all but [`Tier::Latest`]).
    pub const PERIODIC: [Tier; 5] = [
        Tier::Hourly,
        Tier::Daily,
        Tier::Weekly,
        Tier::Monthly,
        Tier::Yearly,
    ];

    /// Lower-case name, as serialized (`"latest"`, `"hourly"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Latest => "latest",
            Tier::Hourly => "hourly",
            Tier::Daily => "daily",
            Tier::Weekly => "weekly",
            Tier::Monthly => "monthly",
            Tier::Yearly => "yearly",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
