//! Retention over concrete calendars, time zones and DST days.

use chrono::{TimeDelta, Timelike};
use chrono_tz::Tz;

use super::super::{Backup, RetentionPolicy, Tier, plan};
use super::{at, backup, key_of};

/// `count` backups, `step` apart, the newest completed at `newest`.
fn series(newest: &str, step: TimeDelta, count: i32) -> Vec<Backup> {
    let newest = at(newest);
    (0..count).map(|i| backup(newest - step * i)).collect()
}

fn kept_keys(plan: &super::super::RetentionPlan) -> Vec<String> {
    plan.keep.iter().map(|k| k.key.clone()).collect()
}

fn keys(times: &[&str]) -> Vec<String> {
    times.iter().map(|t| key_of(at(t))).collect()
}

#[test]
fn webshop_policy_over_sixty_days_of_hourly_backups() {
    // Hourly backups at HH:05 UTC for 60 days; the newest is Thursday 2026-03-12
    // 14:05 in Berlin (UTC+1, no DST change in that window).
    let backups = series("2026-03-12T13:05:00Z", TimeDelta::hours(1), 60 * 24);
    let policy = RetentionPolicy {
        hourly: 24,
        daily: 7,
        weekly: 4,
        ..RetentionPolicy::default()
    };
    let plan = plan(&backups, &policy, chrono_tz::Europe::Berlin);

    // hourly: the 24 newest backups (2026-03-11 15:05 .. 2026-03-12 14:05 local).
    // daily: the last backup (23:05 local = 22:05Z) of 12, 11, 10, 9, 8, 7 and 6 March;
    //   12 March's newest is the latest backup, 11 March's is inside the hourly
    //   window, so daily adds 5 backups.
    // weekly: ISO weeks starting 9 Mar, 2 Mar, 23 Feb and 16 Feb; their newest are the
    //   latest backup and the Sundays 8 Mar (already daily), 1 Mar and 22 Feb, so
    //   weekly adds 2. Total: 24 + 5 + 2 = 31 distinct backups for 35 tier slots.
    let mut expected = keys(&[
        "2026-03-10T22:05:00Z",
        "2026-03-09T22:05:00Z",
        "2026-03-08T22:05:00Z",
        "2026-03-07T22:05:00Z",
        "2026-03-06T22:05:00Z",
        "2026-03-01T22:05:00Z",
        "2026-02-22T22:05:00Z",
    ]);
    expected.splice(0..0, backups.iter().take(24).map(|b| b.key.clone()));
    assert_eq!(kept_keys(&plan), expected);
    assert_eq!(plan.delete.len(), 60 * 24 - 31);
    assert_eq!(plan.kept_by(Tier::Hourly).count(), 24);
    assert_eq!(plan.kept_by(Tier::Daily).count(), 7);
    assert_eq!(plan.kept_by(Tier::Weekly).count(), 4);
    assert_eq!(plan.kept_by(Tier::Latest).count(), 1);

    let newest = &backups[0].key;
    let all_four = [Tier::Latest, Tier::Hourly, Tier::Daily, Tier::Weekly];
    assert_eq!(plan.tiers_of(newest), Some(&all_four[..]));
    let sunday = key_of(at("2026-03-08T22:05:00Z"));
    assert_eq!(
        plan.tiers_of(&sunday),
        Some(&[Tier::Daily, Tier::Weekly][..])
    );
    assert_eq!(plan.tiers_of(&key_of(at("2026-03-08T21:05:00Z"))), None);
}

#[test]
fn all_zero_counts_keep_only_the_newest() {
    let backups = series("2026-06-01T00:00:00Z", TimeDelta::days(1), 30);
    let plan = plan(&backups, &RetentionPolicy::default(), chrono_tz::UTC);
    assert_eq!(kept_keys(&plan), vec![backups[0].key.clone()]);
    assert_eq!(plan.keep[0].tiers, vec![Tier::Latest]);
    assert_eq!(plan.delete.len(), 29);
}

#[test]
fn no_backups_give_an_empty_plan() {
    let policy = RetentionPolicy {
        daily: 3,
        ..RetentionPolicy::default()
    };
    let plan = plan(&[], &policy, chrono_tz::UTC);
    assert!(plan.keep.is_empty() && plan.delete.is_empty());
}

#[test]
fn days_follow_the_policy_time_zone_not_utc() {
    // 23:30Z on 1 May is already 2 May in Berlin (UTC+2) but still 1 May in New York.
    let backups = vec![
        backup(at("2026-05-01T21:30:00Z")),
        backup(at("2026-05-01T23:30:00Z")),
        backup(at("2026-05-02T10:00:00Z")),
    ];
    let policy = RetentionPolicy {
        daily: 2,
        ..RetentionPolicy::default()
    };
    let berlin = plan(&backups, &policy, chrono_tz::Europe::Berlin);
    assert_eq!(
        kept_keys(&berlin),
        keys(&["2026-05-02T10:00:00Z", "2026-05-01T21:30:00Z"])
    );
    let new_york = plan(&backups, &policy, chrono_tz::America::New_York);
    assert_eq!(
        kept_keys(&new_york),
        keys(&["2026-05-02T10:00:00Z", "2026-05-01T23:30:00Z"])
    );
}

#[test]
fn half_hour_offset_hours_and_days_start_at_local_midnight() {
    // Asia/Kolkata is UTC+05:30: local hours begin at :30 UTC, and 18:30Z is midnight.
    let backups = vec![
        backup(at("2026-05-10T17:45:00Z")), // 23:15 on 10 May
        backup(at("2026-05-10T18:29:00Z")), // 23:59 on 10 May
        backup(at("2026-05-10T18:30:00Z")), // 00:00 on 11 May
        backup(at("2026-05-10T19:29:00Z")), // 00:59 on 11 May
        backup(at("2026-05-10T19:30:00Z")), // 01:00 on 11 May
    ];
    let tz = chrono_tz::Asia::Kolkata;
    let hourly = RetentionPolicy {
        hourly: 2,
        ..RetentionPolicy::default()
    };
    assert_eq!(
        kept_keys(&plan(&backups, &hourly, tz)),
        keys(&["2026-05-10T19:30:00Z", "2026-05-10T19:29:00Z"])
    );
    let daily = RetentionPolicy {
        daily: 2,
        ..RetentionPolicy::default()
    };
    assert_eq!(
        kept_keys(&plan(&backups, &daily, tz)),
        keys(&["2026-05-10T19:30:00Z", "2026-05-10T18:29:00Z"])
    );
}

#[test]
fn spring_forward_day_has_twenty_three_hourly_periods() {
    // Europe/Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST. Backups every
    // 30 minutes over the whole local day, 00:00 CET (23:00Z) to 23:30 CEST (21:30Z).
    let backups = series("2026-03-29T21:30:00Z", TimeDelta::minutes(30), 46);
    let tz: Tz = chrono_tz::Europe::Berlin;
    let policy = RetentionPolicy {
        hourly: 100,
        daily: 1,
        ..RetentionPolicy::default()
    };
    let plan = plan(&backups, &policy, tz);
    assert_eq!(plan.keep.len(), 23);
    assert_eq!(plan.delete.len(), 23);
    for kept in &plan.keep {
        let local = kept.completed_at.with_timezone(&tz);
        assert_eq!(local.minute(), 30, "{kept:?} is the newest of its hour");
        assert_ne!(local.hour(), 2, "02:xx does not exist that night");
    }
    assert_eq!(plan.kept_by(Tier::Daily).count(), 1);
    assert_eq!(plan.keep[0].key, key_of(at("2026-03-29T21:30:00Z")));
}

#[test]
fn fall_back_repeated_hour_counts_as_two_hours() {
    // America/New_York, 1 November 2026: 02:00 EDT falls back to 01:00 EST, so the
    // local day has 25 hours and 01:xx happens twice (05:xxZ, then 06:xxZ).
    // Backups at :30 every hour from 00:30 EDT on 1 Nov to 00:30 EST on 2 Nov.
    let backups = series("2026-11-02T05:30:00Z", TimeDelta::hours(1), 26);
    let tz = chrono_tz::America::New_York;
    let all_hours = RetentionPolicy {
        hourly: 26,
        ..RetentionPolicy::default()
    };
    let plan_all = plan(&backups, &all_hours, tz);
    assert!(
        plan_all.delete.is_empty(),
        "26 distinct real hours, none merged"
    );
    assert_eq!(plan_all.kept_by(Tier::Hourly).count(), 26);

    let daily = RetentionPolicy {
        daily: 2,
        ..RetentionPolicy::default()
    };
    let plan_days = plan(&backups, &daily, tz);
    // 2 Nov 00:30 EST, and 1 Nov 23:30 EST: the 25-hour day is one period.
    assert_eq!(
        kept_keys(&plan_days),
        keys(&["2026-11-02T05:30:00Z", "2026-11-02T04:30:00Z"])
    );
}

#[test]
fn fall_back_keeps_the_newest_backup_of_each_repeated_hour() {
    let backups = vec![
        backup(at("2026-11-01T05:10:00Z")), // 01:10 EDT
        backup(at("2026-11-01T05:50:00Z")), // 01:50 EDT
        backup(at("2026-11-01T06:10:00Z")), // 01:10 EST
        backup(at("2026-11-01T06:50:00Z")), // 01:50 EST
    ];
    let policy = RetentionPolicy {
        hourly: 10,
        ..RetentionPolicy::default()
    };
    let plan = plan(&backups, &policy, chrono_tz::America::New_York);
    assert_eq!(
        kept_keys(&plan),
        keys(&["2026-11-01T06:50:00Z", "2026-11-01T05:50:00Z"])
    );
    assert_eq!(
        plan.delete,
        keys(&["2026-11-01T06:10:00Z", "2026-11-01T05:10:00Z"])
    );
}

#[test]
fn a_mid_hour_offset_change_splits_the_hour() {
    // Pacific/Chatham falls back at 03:45 +13:45 (14:00Z) to 02:45 +12:45: 13:50Z is
    // local 03:35 and 14:13Z is local 02:58; both local hours nominally start at 13:15Z
    // but are different hours.
    let backups = vec![
        backup(at("2026-04-04T13:33:00Z")),
        backup(at("2026-04-04T13:50:00Z")),
        backup(at("2026-04-04T14:13:00Z")),
    ];
    let policy = RetentionPolicy {
        hourly: 5,
        ..RetentionPolicy::default()
    };
    let plan = plan(&backups, &policy, chrono_tz::Pacific::Chatham);
    assert_eq!(
        kept_keys(&plan),
        keys(&["2026-04-04T14:13:00Z", "2026-04-04T13:50:00Z"])
    );
}

#[test]
fn iso_week_spans_the_new_year_and_months_and_years_are_calendar() {
    // 2026-12-31 (Thursday) and 2027-01-03 (Sunday) are both in ISO week 2026-W53.
    let backups = vec![
        backup(at("2026-11-15T12:00:00Z")),
        backup(at("2026-12-28T12:00:00Z")),
        backup(at("2026-12-31T12:00:00Z")),
        backup(at("2027-01-03T12:00:00Z")),
    ];
    let weekly = RetentionPolicy {
        weekly: 2,
        ..RetentionPolicy::default()
    };
    let plan_weeks = plan(&backups, &weekly, chrono_tz::UTC);
    assert_eq!(
        kept_keys(&plan_weeks),
        keys(&["2027-01-03T12:00:00Z", "2026-11-15T12:00:00Z"])
    );
    let calendar = RetentionPolicy {
        monthly: 2,
        yearly: 2,
        ..RetentionPolicy::default()
    };
    let plan_cal = plan(&backups, &calendar, chrono_tz::UTC);
    let got: Vec<(String, Vec<Tier>)> = plan_cal
        .keep
        .iter()
        .map(|k| (k.key.clone(), k.tiers.clone()))
        .collect();
    let expected = vec![
        (
            key_of(at("2027-01-03T12:00:00Z")),
            vec![Tier::Latest, Tier::Monthly, Tier::Yearly],
        ),
        (
            key_of(at("2026-12-31T12:00:00Z")),
            vec![Tier::Monthly, Tier::Yearly],
        ),
    ];
    assert_eq!(got, expected);
}

#[test]
fn equal_times_break_ties_by_key_and_input_order_does_not_matter() {
    let t = at("2026-02-02T02:00:00Z");
    let backups = vec![
        Backup::new("ns/p/b", t),
        Backup::new("ns/p/a", t),
        Backup::new("ns/p/c", t),
    ];
    let policy = RetentionPolicy {
        hourly: 5,
        ..RetentionPolicy::default()
    };
    let tz = chrono_tz::UTC;
    let plan_1 = plan(&backups, &policy, tz);
    let reversed: Vec<Backup> = backups.iter().rev().cloned().collect();
    assert_eq!(plan(&reversed, &policy, tz), plan_1);
    assert_eq!(kept_keys(&plan_1), vec!["ns/p/c".to_owned()]);
    assert_eq!(
        plan_1.delete,
        vec!["ns/p/b".to_owned(), "ns/p/a".to_owned()]
    );
}

#[test]
fn a_key_listed_twice_is_one_backup() {
    let backups = vec![
        Backup::new("ns/p/x", at("2026-02-02T02:00:00Z")),
        Backup::new("ns/p/y", at("2026-02-02T03:00:00Z")),
        Backup::new("ns/p/x", at("2026-02-02T04:00:00Z")),
    ];
    let plan = plan(&backups, &RetentionPolicy::default(), chrono_tz::UTC);
    assert_eq!(kept_keys(&plan), vec!["ns/p/x".to_owned()]);
    assert_eq!(plan.keep[0].completed_at, at("2026-02-02T04:00:00Z"));
    assert_eq!(plan.delete, vec!["ns/p/y".to_owned()]);
}

#[test]
fn plan_serializes_with_lowercase_tiers() {
    let backups = vec![backup(at("2026-02-02T02:00:00Z"))];
    let plan = plan(&backups, &RetentionPolicy::default(), chrono_tz::UTC);
    let json = serde_json::to_string(&plan).expect("serializable");
    assert!(json.contains(r#""tiers":["latest"]"#), "{json}");
    assert!(json.contains(r#""completedAt":"#), "{json}");
}
