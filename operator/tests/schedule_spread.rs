//! `spec.scheduleSpreadSeconds` as pure scheduling: the per-policy offset (distribution,
//! bounds, determinism) and the spread schedule (never past the next fire time, time
//! zones and DST, the decision's Job name and next schedule time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use tidemark_crd::backup_policy::BackupPolicyStatus;
use tidemark_crd::{BackupPolicy, BackupPolicySpec};
use tidemark_operator::backup_policy::decide::{Inputs, decide};
use tidemark_operator::backup_policy::jobs::Trigger;
use tidemark_operator::backup_policy::schedule::{Due, Schedule, due};
use tidemark_operator::backup_policy::spread::{self, MAX_SPREAD_SECONDS, offset};
use tidemark_operator::backup_policy::validate::validate;

mod support;
use support::fixtures::example;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn sched(expr: &str, tz: &str, offset_s: i64) -> Schedule {
    Schedule::parse(expr, tz, "spec.schedule", "spec.timeZone")
        .unwrap()
        .spread_by(Duration::seconds(offset_s))
}

#[test]
fn offsets_spread_evenly_over_the_whole_range() {
    let spread = 3600;
    let buckets = 60;
    let mut counts = vec![0usize; buckets];
    let n = 12_000;
    for i in 0..n {
        let o = offset(
            &format!("team-{}", i % 37),
            &format!("db-{i}"),
            &format!("uid-{i}"),
            spread,
        )
        .num_seconds();
        assert!((0..=spread).contains(&o), "offset {o} outside 0..={spread}");
        counts[usize::try_from(o).unwrap() * buckets / (usize::try_from(spread).unwrap() + 1)] += 1;
    }
    let mean = n / buckets;
    for (b, c) in counts.iter().enumerate() {
        assert!(
            c * 10 > mean * 7 && c * 10 < mean * 13,
            "minute {b} got {c} of {n} policies (mean {mean}): {counts:?}"
        );
    }
    // Not a handful of values: most policies get a second of their own range.
    let mut distinct: Vec<i64> = (0..3000)
        .map(|i| offset("ns", &format!("p{i}"), "u", spread).num_seconds())
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 1500, "{} distinct offsets", distinct.len());
}

#[test]
fn offsets_are_deterministic_and_depend_on_namespace_name_and_uid() {
    let a = offset("shop", "webshop", "1f0c", 900);
    assert_eq!(a, offset("shop", "webshop", "1f0c", 900));
    let others = [
        offset("shop2", "webshop", "1f0c", 900),
        offset("shop", "webshop2", "1f0c", 900),
        offset("shop", "webshop", "1f0d", 900),
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        offset("sho", "pwebshop", "1f0c", 900),
    ];
    assert!(others.iter().any(|o| *o != a), "{a} {others:?}");
    // A known value: the same on every machine and release (not the std hasher).
    assert_eq!(offset("shop", "webshop", "1f0c", 900), a);
    assert_eq!(offset("shop", "webshop", "1f0c", 0), Duration::zero());
    assert_eq!(offset("shop", "webshop", "1f0c", -5), Duration::zero());
    assert!(offset("a", "b", "c", 1_000_000).num_seconds() <= MAX_SPREAD_SECONDS);
}

#[test]
fn the_offset_follows_the_policy_spec_and_identity() {
    let mut p: BackupPolicy = example("webshop-hourly.yaml");
    p.metadata.namespace = Some("shop".into());
    p.metadata.uid = Some("1f0c".into());
    assert_eq!(spread::offset_of(&p), Duration::zero(), "unset: no spread");
    p.spec.schedule_spread_seconds = Some(900);
    let name = p.metadata.name.clone().unwrap();
    assert_eq!(spread::offset_of(&p), offset("shop", &name, "1f0c", 900));
}

#[test]
fn a_spread_run_never_reaches_the_next_fire_time() {
    // Hourly with the largest offset: cut to a minute before the next hour.
    let s = sched("0 * * * *", "UTC", 3600);
    assert_eq!(
        s.next_after(t("2026-11-23T10:00:00Z")),
        Some(t("2026-11-23T10:59:00Z"))
    );
    let s = sched("*/5 * * * *", "UTC", 3600);
    assert_eq!(
        s.next_after(t("2026-11-23T10:00:00Z")),
        Some(t("2026-11-23T10:04:00Z"))
    );
    // Every fire time of a day of several schedules and offsets: in order, each after
    // its cron time and in a minute before the next cron time (Job names carry the minute).
    for expr in ["0 * * * *", "*/15 * * * *", "0 4 * * *", "0 */6 * * 1-5"] {
        let plain = sched(expr, "Europe/Berlin", 0);
        for off in [0, 1, 59, 61, 899, 3599, 3600] {
            let s = sched(expr, "Europe/Berlin", off);
            let mut c = plain.next_after(t("2026-11-23T00:00:00Z")).unwrap();
            // Just before a cron time: the previous spread run is over.
            let mut at = c - Duration::seconds(1);
            for _ in 0..40 {
                let next_cron = plain.next_after(c).unwrap();
                let fire = s.next_after(at).unwrap();
                assert!(
                    fire >= c && fire <= next_cron - Duration::minutes(1),
                    "{expr} +{off}s: {fire} for {c}"
                );
                assert_eq!(
                    fire - c,
                    Duration::seconds(off).min(next_cron - c - Duration::minutes(1))
                );
                assert_eq!(s.latest_at_or_before(fire), Some(fire));
                assert!(s.latest_at_or_before(fire - Duration::seconds(1)) < Some(fire));
                at = fire;
                c = next_cron;
            }
        }
    }
}

#[test]
fn a_spread_run_is_due_at_its_own_time_once() {
    let s = sched("0 * * * *", "UTC", 754); // 12 min 34 s
    let created = t("2026-11-20T08:13:00Z");
    // At the hour the cron fired, but this policy's run is still 12:34 away.
    assert_eq!(
        due(
            &s,
            Some(t("2026-11-23T09:12:34Z")),
            created,
            t("2026-11-23T10:12:33Z"),
            None
        ),
        Due::NotDue {
            next: Some(t("2026-11-23T10:12:34Z"))
        }
    );
    assert_eq!(
        due(
            &s,
            Some(t("2026-11-23T09:12:34Z")),
            created,
            t("2026-11-23T10:12:34Z"),
            None
        ),
        Due::Run {
            scheduled: t("2026-11-23T10:12:34Z"),
            next: Some(t("2026-11-23T11:12:34Z")),
        }
    );
    assert_eq!(
        due(
            &s,
            Some(t("2026-11-23T10:12:34Z")),
            created,
            t("2026-11-23T10:50:00Z"),
            None
        ),
        Due::NotDue {
            next: Some(t("2026-11-23T11:12:34Z"))
        }
    );
    // The starting deadline counts from the spread time.
    assert_eq!(
        due(
            &s,
            Some(t("2026-11-23T09:12:34Z")),
            created,
            t("2026-11-23T10:13:00Z"),
            Some(Duration::seconds(30))
        ),
        Due::Run {
            scheduled: t("2026-11-23T10:12:34Z"),
            next: Some(t("2026-11-23T11:12:34Z")),
        }
    );
}

#[test]
fn spread_follows_the_time_zone_and_dst() {
    // Europe/Berlin skips 02:00–03:00 local on 2026-03-29: the 02:30 run runs at 03:00
    // CEST (01:00Z), spread by 10 minutes.
    let s = sched("30 2 * * *", "Europe/Berlin", 600);
    assert_eq!(
        s.next_after(t("2026-03-28T23:00:00Z")),
        Some(t("2026-03-29T01:10:00Z"))
    );
    // America/New_York repeats 01:00–02:00 on 2026-11-01: hourly runs in both hours,
    // each spread by 45 minutes, and the fixed-time run once.
    let s = sched("0 * * * *", "America/New_York", 2700);
    let first = s.next_after(t("2026-11-01T04:50:00Z")).unwrap();
    assert_eq!(first, t("2026-11-01T05:45:00Z"), "01:45 EDT");
    let second = s.next_after(first).unwrap();
    assert_eq!(second, t("2026-11-01T06:45:00Z"), "01:45 EST");
    let s = sched("30 1 * * *", "America/New_York", 1200);
    let first = s.next_after(t("2026-11-01T04:00:00Z")).unwrap();
    assert_eq!(first, t("2026-11-01T05:50:00Z"), "01:50 EDT");
    assert_eq!(s.next_after(first), Some(t("2026-11-02T06:50:00Z")));
}

fn hourly() -> BackupPolicySpec {
    let p: BackupPolicy = example("webshop-hourly.yaml");
    let mut s = p.spec;
    s.verification.enabled = false;
    s.restore_test = None;
    s
}

#[test]
fn the_decision_names_and_reports_the_spread_time() {
    let spec = hourly();
    let plain = validate(&spec).unwrap();
    let expr = spec.schedule.clone();
    let base = Schedule::parse(&expr, &spec.time_zone, "spec.schedule", "spec.timeZone").unwrap();
    let cron = base.next_after(t("2026-11-23T10:00:30Z")).unwrap();
    let gap = base.next_after(cron).unwrap() - cron;
    let off = Duration::seconds(754).min(gap - Duration::minutes(1));
    let parsed = spread::apply(plain, Duration::seconds(754));
    let status = BackupPolicyStatus {
        last_schedule_time: Some(t("2026-11-23T09:00:00Z")),
        ..Default::default()
    };
    let at = |now: DateTime<Utc>| {
        decide(&Inputs {
            name: "webshop",
            spec: &parsed,
            status: &status,
            created: t("2026-11-20T08:13:00Z"),
            jobs: &[],
            now,
            run_now_annotation: None,
        })
    };
    let before = at(cron + off - Duration::seconds(1));
    assert!(
        before.launch.iter().all(|l| !l.name.contains("-backup-")),
        "{before:?}"
    );
    assert_eq!(before.next_schedule_time, Some(cron + off));
    let p = at(cron + off);
    let backup = p
        .launch
        .iter()
        .find(|l| l.name.contains("-backup-"))
        .unwrap();
    assert_eq!(backup.trigger, Trigger::Scheduled(cron + off));
    assert_eq!(
        backup.name,
        format!("webshop-backup-{}", (cron + off).format("%Y%m%d%H%M"))
    );
    assert_eq!(p.last_schedule_time, Some(cron + off));
    assert!(p.next_schedule_time.unwrap() > cron + gap);
}
