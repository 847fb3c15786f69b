//! The naive, independent retention implementation the properties compare with: it
//! walks periods backwards from the newest backup by enumerating local dates (and, for
//! hours, instants five minutes apart), and labels each instant by its local calendar
//! fields (an hour by local date, hour and UTC offset). It shares no code with the
//! module under test and favours obviousness over speed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use tidemark_runner::retention::{Backup, RetentionPolicy, Tier};

use super::instant;

/// Newest of `members` by (completion time, key).
pub fn newest<'a>(members: impl Iterator<Item = &'a Backup>) -> Option<&'a Backup> {
    members.max_by(|a, b| (a.completed_at, &a.key).cmp(&(b.completed_at, &b.key)))
}

fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// Local date, local hour and UTC offset: the naive label of a wall-clock hour.
fn hour_label(t: DateTime<Utc>, tz: Tz) -> (NaiveDate, u32, i32) {
    let local = t.with_timezone(&tz);
    (
        local.date_naive(),
        local.hour(),
        local.offset().fix().local_minus_utc(),
    )
}

/// Keys kept by one tier, found by walking periods back from the newest backup.
fn naive_tier(backups: &[Backup], tier: Tier, n: u32, tz: Tz) -> BTreeSet<String> {
    let mut chosen = BTreeSet::new();
    let Some(top) = newest(backups.iter()) else {
        return chosen;
    };
    let n = n as usize;
    let min_date = backups
        .iter()
        .map(|b| local_date(b.completed_at, tz))
        .min()
        .unwrap();
    let pick = |chosen: &mut BTreeSet<String>, found: Option<&Backup>| {
        if let Some(b) = found {
            chosen.insert(b.key.clone());
        }
    };
    match tier {
        Tier::Latest => {}
        Tier::Hourly => {
            let oldest = backups.iter().map(|b| b.completed_at).min().unwrap();
            let mut seen = BTreeSet::new();
            let mut s = top.completed_at;
            while s >= oldest - TimeDelta::minutes(5) && chosen.len() < n {
                let label = hour_label(s, tz);
                if seen.insert(label) {
                    let members = backups
                        .iter()
                        .filter(|b| hour_label(b.completed_at, tz) == label);
                    pick(&mut chosen, newest(members));
                }
                // Next step: the previous five-minute mark, or, over a long gap, two
                // hours after the next older backup (an hour label spans at most an
                // hour, so no skipped instant shares a label with any backup).
                let next_older = backups
                    .iter()
                    .map(|b| b.completed_at)
                    .filter(|t| *t < s)
                    .max();
                s = match next_older {
                    Some(t) if t < s - TimeDelta::hours(3) => {
                        let t = t.timestamp();
                        instant(t - t.rem_euclid(300) + 7200)
                    }
                    _ => {
                        let t = s.timestamp();
                        instant(t - 1 - (t - 1).rem_euclid(300))
                    }
                };
            }
        }
        Tier::Daily => {
            let mut day = local_date(top.completed_at, tz);
            while day >= min_date && chosen.len() < n {
                let members = backups
                    .iter()
                    .filter(|b| local_date(b.completed_at, tz) == day);
                pick(&mut chosen, newest(members));
                day = day.pred_opt().unwrap();
            }
        }
        Tier::Weekly => {
            let mut seen = BTreeSet::new();
            let mut day = local_date(top.completed_at, tz);
            while day >= min_date && chosen.len() < n {
                let week = day.iso_week();
                if seen.insert((week.year(), week.week())) {
                    let members = backups.iter().filter(|b| {
                        let w = local_date(b.completed_at, tz).iso_week();
                        (w.year(), w.week()) == (week.year(), week.week())
                    });
                    pick(&mut chosen, newest(members));
                }
                day = day.pred_opt().unwrap();
            }
        }
        Tier::Monthly => {
            let top_date = local_date(top.completed_at, tz);
            let (mut year, mut month) = (top_date.year(), top_date.month());
            while (year, month) >= (min_date.year(), min_date.month()) && chosen.len() < n {
                let members = backups.iter().filter(|b| {
                    let d = local_date(b.completed_at, tz);
                    d.year() == year && d.month() == month
                });
                pick(&mut chosen, newest(members));
                (year, month) = if month == 1 {
                    (year - 1, 12)
                } else {
                    (year, month - 1)
                };
            }
        }
        Tier::Yearly => {
            let mut year = local_date(top.completed_at, tz).year();
            while year >= min_date.year() && chosen.len() < n {
                let members = backups
                    .iter()
                    .filter(|b| local_date(b.completed_at, tz).year() == year);
                pick(&mut chosen, newest(members));
                year -= 1;
            }
        }
    }
    chosen
}

/// The tiers keeping each key, according to the naive implementation.
pub fn naive_tiers(
    backups: &[Backup],
    policy: &RetentionPolicy,
    tz: Tz,
) -> BTreeMap<String, Vec<Tier>> {
    let mut tiers: BTreeMap<String, Vec<Tier>> = BTreeMap::new();
    if let Some(top) = newest(backups.iter()) {
        tiers.entry(top.key.clone()).or_default().push(Tier::Latest);
    }
    let counts = [
        (Tier::Hourly, policy.hourly),
        (Tier::Daily, policy.daily),
        (Tier::Weekly, policy.weekly),
        (Tier::Monthly, policy.monthly),
        (Tier::Yearly, policy.yearly),
    ];
    for (tier, n) in counts {
        for key in naive_tier(backups, tier, n, tz) {
            tiers.entry(key).or_default().push(tier);
        }
    }
    tiers
}
