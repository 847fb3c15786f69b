//! Settings derived from the schedule: the longest gap between fire times (hourly,
//! nightly, weekly, weekdays, across DST) and the effective rpo, maxAge and deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use tidemark_crd::BackupPolicy;
use tidemark_operator::backup_policy::effective::{self, anchor, duration_text, longest_gap};
use tidemark_operator::backup_policy::schedule::Schedule;

mod support;
use support::fixtures::example;

fn gap(cron: &str, tz: &str) -> Duration {
    let s = Schedule::parse(cron, tz, "spec.schedule", "spec.timeZone").unwrap();
    longest_gap(&s, anchor()).unwrap()
}

#[test]
fn longest_gaps_of_common_schedules() {
    assert_eq!(gap("0 * * * *", "UTC"), Duration::hours(1));
    assert_eq!(gap("@hourly", "Europe/Berlin"), Duration::hours(1));
    assert_eq!(gap("0 2 * * *", "UTC"), Duration::hours(24));
    assert_eq!(gap("0 3 * * 0", "UTC"), Duration::days(7));
    // Weekdays at 09:00: Friday 09:00 to Monday 09:00.
    assert_eq!(gap("0 9 * * 1-5", "UTC"), Duration::hours(72));
    assert_eq!(gap("*/15 * * * *", "UTC"), Duration::minutes(15));
}

#[test]
fn dst_changes_lengthen_the_gap_of_a_nightly_schedule() {
    // 02:30 does not exist on the spring-forward day in Berlin; in autumn the day has
    // 25 hours. Either way the longest gap exceeds 24 hours.
    let berlin = gap("30 2 * * *", "Europe/Berlin");
    assert!(berlin > Duration::hours(24), "{berlin}");
    assert!(berlin <= Duration::hours(48), "{berlin}");
    let ny = gap("0 1 * * *", "America/New_York");
    assert_eq!(ny, Duration::hours(25), "fall back adds an hour");
    // UTC has no DST.
    assert_eq!(gap("30 2 * * *", "UTC"), Duration::hours(24));
}

fn policy(schedule: &str) -> BackupPolicy {
    let mut p: BackupPolicy = example("webshop-hourly.yaml");
    p.spec.schedule = schedule.into();
    p.spec.rpo = None;
    p.spec.deadline_seconds = None;
    p.spec.verification.max_age = None;
    p
}

#[test]
fn unset_values_follow_the_schedule() {
    let hourly = effective::of(&policy("0 * * * *").spec).unwrap();
    assert_eq!(hourly.deadline_seconds, 3_300);
    assert_eq!(duration_text(hourly.rpo), "1h55m");
    assert_eq!(hourly.max_age, hourly.rpo);

    let nightly = effective::of(&policy("0 2 * * *").spec).unwrap();
    assert_eq!(nightly.deadline_seconds, 22 * 3600);
    assert_eq!(nightly.rpo, Duration::hours(46));
    assert_eq!(nightly.settings().max_age, "46h");

    let weekly = effective::of(&policy("0 3 * * 0").spec).unwrap();
    assert_eq!(weekly.deadline_seconds, 7 * 24 * 3600 * 11 / 12);
    assert!(weekly.rpo > Duration::days(7));

    let weekdays = effective::of(&policy("0 9 * * 1-5").spec).unwrap();
    assert_eq!(weekdays.longest_gap, Duration::hours(72));
    assert_eq!(weekdays.rpo, Duration::hours(72 + 66));
}

#[test]
fn set_values_are_kept_and_checked_against_the_gap() {
    let mut p = policy("0 2 * * *");
    p.spec.deadline_seconds = Some(1_800);
    p.spec.rpo = Some("30h".into());
    let e = effective::of(&p.spec).unwrap();
    assert_eq!(e.deadline_seconds, 1_800);
    assert_eq!(e.rpo, Duration::hours(30));
    assert_eq!(e.max_age, Duration::hours(24) + Duration::seconds(1_800));
    assert_eq!(effective::problem(&p.spec, &e), None);

    p.spec.rpo = Some("1h".into());
    let e = effective::of(&p.spec).unwrap();
    let (reason, message) = effective::problem(&p.spec, &e).unwrap();
    assert_eq!(reason, "RPOShorterThanSchedule");
    assert!(message.starts_with("spec.rpo:"), "{message}");
    assert!(message.contains("spec.schedule"), "{message}");

    p.spec.rpo = None;
    p.spec.verification.max_age = Some("2h".into());
    let e = effective::of(&p.spec).unwrap();
    let (reason, message) = effective::problem(&p.spec, &e).unwrap();
    assert_eq!(reason, "MaxAgeShorterThanSchedule");
    assert!(message.contains("spec.verification.maxAge") && message.contains("spec.schedule"));
}

#[test]
fn a_nightly_policy_with_defaults_is_fresh_all_day() {
    use tidemark_crd::backup_policy::{BackupPolicyStatus, BackupRecord};
    use tidemark_operator::backup_policy::conditions::fresh_until;
    let p = policy("0 2 * * *");
    let completed = "2026-11-23T02:05:00Z".parse().unwrap();
    let status = BackupPolicyStatus {
        last_backup: Some(BackupRecord {
            completed_at: completed,
            ..BackupRecord::default()
        }),
        ..BackupPolicyStatus::default()
    };
    // Just before the next night's backup completes (02:00 start + most of its deadline).
    let now = completed + Duration::hours(23) + Duration::minutes(59);
    let e = effective::of(&p.spec);
    assert!(fresh_until(e.as_ref(), &status, completed, now).is_some());
    let later = completed + Duration::hours(30);
    assert!(fresh_until(e.as_ref(), &status, completed, later).is_some());
}
