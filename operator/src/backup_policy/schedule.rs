//! Cron schedules in an IANA time zone, and the decision whether a run is due.
//!
//! Pure: every function takes `now` as an argument. DST follows the Open Cron Pattern
//! Specification as implemented by `croner`: a fixed-time run that falls into a
//! spring-forward gap runs at the first instant after the gap; in a fall-back overlap
//! a fixed-time run runs once, while interval patterns (`0 * * * *`) run in both
//! repeated hours, because both are real, distinct hours.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Why a schedule cannot be used. Each variant names the offending field.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("{field}: invalid cron expression {expr:?}: {reason}")]
    InvalidCron {
        field: &'static str,
        expr: String,
        reason: String,
    },
    #[error("{field}: unknown IANA time zone {tz:?}")]
    UnknownTimeZone { field: &'static str, tz: String },
    #[error("{field}: cron expression {expr:?} never fires")]
    NeverFires { field: &'static str, expr: String },
}

/// A parsed cron schedule bound to a time zone, optionally spread: each fire time moved
/// later by a fixed per-policy offset ([`super::spread`]), never onto or past the cron's
/// next fire time (the offset is cut to end at least a minute before it, so Job names,
/// which carry the minute, stay distinct and runs keep their order).
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
    offset: Duration,
}

/// Parses an IANA time zone name, naming `field` in the error.
pub fn parse_time_zone(tz: &str, field: &'static str) -> Result<Tz, ScheduleError> {
    Tz::from_str(tz).map_err(|_| ScheduleError::UnknownTimeZone {
        field,
        tz: tz.to_string(),
    })
}

/// Parsed schedules by expression, zone and field names (the error names the field).
type ParsedKey = (String, String, &'static str, &'static str);

/// Distinct schedules remembered at most; the memo starts over beyond that.
const MEMO_LIMIT: usize = 4096;

/// Schedules parsed before. A reconcile needs up to seven parses, and parsing (with the
/// never-fires check) was a sixth of the operator's CPU at a 1,000-policy tick.
static PARSED: LazyLock<Mutex<HashMap<ParsedKey, Result<Schedule, ScheduleError>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Schedule {
    /// Parses a five-field cron expression (or `@hourly`-style macro) in time zone `tz`
    /// (memoised: the same arguments give the same answer).
    pub fn parse(
        expr: &str,
        tz: &str,
        cron_field: &'static str,
        tz_field: &'static str,
    ) -> Result<Self, ScheduleError> {
        let key = (expr.to_string(), tz.to_string(), cron_field, tz_field);
        if let Some(hit) = PARSED.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return hit;
        }
        let parsed = Self::parse_uncached(expr, tz, cron_field, tz_field);
        if let Ok(mut memo) = PARSED.lock() {
            if memo.len() >= MEMO_LIMIT {
                memo.clear();
            }
            memo.insert(key, parsed.clone());
        }
        parsed
    }

    fn parse_uncached(
        expr: &str,
        tz: &str,
        cron_field: &'static str,
        tz_field: &'static str,
    ) -> Result<Self, ScheduleError> {
        let tz = parse_time_zone(tz, tz_field)?;
        let fields = expr.split_whitespace().count();
        if !expr.trim_start().starts_with('@') && fields != 5 {
            return Err(ScheduleError::InvalidCron {
                field: cron_field,
                expr: expr.to_string(),
                reason: format!("expected 5 fields (minute hour day month weekday), got {fields}"),
            });
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| ScheduleError::InvalidCron {
                field: cron_field,
                expr: expr.to_string(),
                reason: e.to_string(),
            })?;
        let schedule = Self {
            cron,
            tz,
            offset: Duration::zero(),
        };
        // Reject patterns such as `0 0 31 2 *` that never match.
        if schedule.next_after(DateTime::<Utc>::UNIX_EPOCH).is_none() {
            return Err(ScheduleError::NeverFires {
                field: cron_field,
                expr: expr.to_string(),
            });
        }
        Ok(schedule)
    }

    /// The time zone schedules are evaluated in.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The same schedule with every fire time moved later by `offset` (cut as
    /// [`Schedule`] says); a negative offset counts as none.
    pub fn spread_by(mut self, offset: Duration) -> Self {
        self.offset = offset.max(Duration::zero());
        self
    }

    /// The offset this schedule was spread by.
    pub fn offset(&self) -> Duration {
        self.offset
    }

    /// The cron's first fire time strictly after `t` (no offset).
    fn cron_next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The cron's latest fire time at or before `t` (no offset).
    fn cron_latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The spread fire time of the cron fire time `c`: `c + offset`, but at least a
    /// minute before the cron's next fire time (and never before `c`).
    fn spread(&self, c: DateTime<Utc>) -> DateTime<Utc> {
        if self.offset.is_zero() {
            return c;
        }
        let room = self
            .cron_next_after(c)
            .map_or(self.offset, |next| next - c - Duration::minutes(1));
        c + self.offset.min(room).max(Duration::zero())
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.offset.is_zero()
            && let Some(c) = self.cron_latest_at_or_before(t)
        {
            // The cron fired at or before `t`, its spread run may still be ahead.
            let spread = self.spread(c);
            if spread > t {
                return Some(spread);
            }
        }
        self.cron_next_after(t).map(|c| self.spread(c))
    }

    /// The latest fire time at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let c = self.cron_latest_at_or_before(t)?;
        let spread = self.spread(c);
        if spread <= t {
            return Some(spread);
        }
        // This fire's spread run is still ahead: the one before it (cron times have
        // minute precision, so a second earlier is strictly before `c`).
        self.cron_latest_at_or_before(c - Duration::seconds(1))
            .map(|p| self.spread(p))
    }
}

/// What the schedule says at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing to do until `next`.
    NotDue { next: Option<DateTime<Utc>> },
    /// Start the run scheduled at `scheduled` now.
    Run {
        scheduled: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    },
    /// The run at `scheduled` was missed by more than the starting deadline: record it
    /// as skipped and do not start it.
    Missed {
        scheduled: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    },
}

/// Decides whether a run is due, like the CronJob controller: the most recent fire
/// time after `last_scheduled` (or after `since`, e.g. the policy's creation, when it
/// never ran) and at or before `now` is due. Older missed fire times are not run: a
/// backlog collapses into one run. With a starting deadline, a fire time older than
/// the deadline is reported as missed instead.
pub fn due(
    schedule: &Schedule,
    last_scheduled: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    starting_deadline: Option<Duration>,
) -> Due {
    let next = schedule.next_after(now);
    let reference = last_scheduled.unwrap_or(since);
    match schedule.latest_at_or_before(now) {
        Some(scheduled) if scheduled > reference => match starting_deadline {
            Some(deadline) if now - scheduled > deadline => Due::Missed { scheduled, next },
            _ => Due::Run { scheduled, next },
        },
        _ => Due::NotDue { next },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sched(expr: &str, tz: &str) -> Schedule {
        Schedule::parse(expr, tz, "spec.schedule", "spec.timeZone").unwrap()
    }

    #[test]
    fn memoised_parses_answer_as_fresh_ones_and_name_the_asking_field() {
        for _ in 0..2 {
            let s = sched("17 3 * * *", "Europe/Berlin");
            assert_eq!(
                s.next_after(utc("2026-11-23T00:00:00Z")),
                Some(utc("2026-11-23T02:17:00Z"))
            );
            let e =
                Schedule::parse("61 * * * *", "UTC", "spec.schedule", "spec.timeZone").unwrap_err();
            assert!(matches!(
                e,
                ScheduleError::InvalidCron {
                    field: "spec.schedule",
                    ..
                }
            ));
        }
        let e = Schedule::parse(
            "61 * * * *",
            "UTC",
            "spec.verification.schedule",
            "spec.timeZone",
        )
        .unwrap_err();
        assert!(matches!(
            e,
            ScheduleError::InvalidCron {
                field: "spec.verification.schedule",
                ..
            }
        ));
        assert!(matches!(
            Schedule::parse(
                "17 3 * * *",
                "Mars/Olympus",
                "spec.schedule",
                "spec.timeZone"
            ),
            Err(ScheduleError::UnknownTimeZone { .. })
        ));
    }

    #[test]
    fn hourly_fires_at_minute_zero() {
        let s = sched("0 * * * *", "UTC");
        assert_eq!(
            s.next_after(utc("2026-11-23T10:15:00Z")),
            Some(utc("2026-11-23T11:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-11-23T11:00:00Z")),
            Some(utc("2026-11-23T12:00:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(utc("2026-11-23T11:00:00Z")),
            Some(utc("2026-11-23T11:00:00Z"))
        );
    }

    #[test]
    fn daily_schedule_follows_the_local_time_zone() {
        let s = sched("0 4 * * *", "Europe/Berlin");
        // Winter: UTC+1.
        assert_eq!(
            s.next_after(utc("2026-11-23T00:00:00Z")),
            Some(utc("2026-11-23T03:00:00Z"))
        );
        // Summer: UTC+2.
        assert_eq!(
            s.next_after(utc("2026-07-01T00:00:00Z")),
            Some(utc("2026-07-01T02:00:00Z"))
        );
    }

    #[test]
    fn a_fixed_time_in_the_spring_forward_gap_runs_right_after_the_gap() {
        // Europe/Berlin skips 02:00–03:00 local on 2026-03-29.
        let s = sched("30 2 * * *", "Europe/Berlin");
        let next = s.next_after(utc("2026-03-28T23:00:00Z")).unwrap();
        assert_eq!(
            next,
            utc("2026-03-29T01:00:00Z"),
            "03:00 CEST, the first instant after the gap"
        );
        // And the day after it is back to 02:30 local.
        assert_eq!(s.next_after(next), Some(utc("2026-03-30T00:30:00Z")));
    }

    #[test]
    fn a_fixed_time_in_the_fall_back_overlap_runs_once() {
        // America/New_York repeats 01:00–02:00 local on 2026-11-01.
        let s = sched("30 1 * * *", "America/New_York");
        let first = s.next_after(utc("2026-11-01T04:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-11-01T05:30:00Z"), "01:30 EDT");
        let second = s.next_after(first).unwrap();
        assert_eq!(
            second,
            utc("2026-11-02T06:30:00Z"),
            "not again at 01:30 EST"
        );
    }

    #[test]
    fn an_hourly_schedule_runs_in_both_repeated_hours() {
        let s = sched("0 * * * *", "America/New_York");
        let mut t = utc("2026-11-01T04:30:00Z"); // 00:30 EDT
        let mut fires = Vec::new();
        for _ in 0..4 {
            t = s.next_after(t).unwrap();
            fires.push(t);
        }
        // 01:00 EDT, 01:00 EST, 02:00 EST, 03:00 EST: every real hour exactly once.
        let expected = [
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z",
        ];
        assert_eq!(fires, expected.map(utc).to_vec());
    }

    #[test]
    fn invalid_input_names_the_field() {
        let err =
            Schedule::parse("61 * * * *", "UTC", "spec.schedule", "spec.timeZone").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("spec.schedule: invalid cron expression"),
            "{err}"
        );
        let err = Schedule::parse(
            "0 * * * *",
            "Mars/Olympus",
            "spec.schedule",
            "spec.timeZone",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.timeZone: unknown IANA time zone \"Mars/Olympus\""
        );
        let err = Schedule::parse(
            "0 0 * * * *",
            "UTC",
            "spec.verification.schedule",
            "spec.timeZone",
        )
        .unwrap_err();
        assert!(err.to_string().contains("expected 5 fields"), "{err}");
        let err =
            Schedule::parse("0 0 31 2 *", "UTC", "spec.schedule", "spec.timeZone").unwrap_err();
        assert!(matches!(err, ScheduleError::NeverFires { .. }), "{err}");
    }

    #[test]
    fn macros_are_accepted() {
        let s = sched("@daily", "UTC");
        assert_eq!(
            s.next_after(utc("2026-11-23T10:00:00Z")),
            Some(utc("2026-11-24T00:00:00Z"))
        );
    }

    #[test]
    fn nothing_is_due_before_the_first_fire_time() {
        let s = sched("0 * * * *", "UTC");
        let created = utc("2026-11-23T10:05:00Z");
        let d = due(&s, None, created, utc("2026-11-23T10:30:00Z"), None);
        assert_eq!(
            d,
            Due::NotDue {
                next: Some(utc("2026-11-23T11:00:00Z"))
            }
        );
    }

    #[test]
    fn a_fire_time_is_due_once() {
        let s = sched("0 * * * *", "UTC");
        let created = utc("2026-11-23T10:05:00Z");
        let now = utc("2026-11-23T11:00:02Z");
        let d = due(&s, None, created, now, None);
        assert_eq!(
            d,
            Due::Run {
                scheduled: utc("2026-11-23T11:00:00Z"),
                next: Some(utc("2026-11-23T12:00:00Z"))
            }
        );
        // Once recorded as scheduled, it is not due again.
        let d = due(&s, Some(utc("2026-11-23T11:00:00Z")), created, now, None);
        assert!(matches!(d, Due::NotDue { .. }));
    }

    #[test]
    fn a_backlog_after_downtime_collapses_into_one_run_within_the_deadline() {
        let s = sched("0 * * * *", "UTC");
        let last = Some(utc("2026-11-23T06:00:00Z"));
        // Down from 06:30 to 11:04: 07..11 were missed; only 11:00 runs.
        let d = due(
            &s,
            last,
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-23T11:04:00Z"),
            Some(Duration::seconds(600)),
        );
        assert_eq!(
            d,
            Due::Run {
                scheduled: utc("2026-11-23T11:00:00Z"),
                next: Some(utc("2026-11-23T12:00:00Z"))
            }
        );
    }

    #[test]
    fn a_run_later_than_the_starting_deadline_is_missed() {
        let s = sched("0 * * * *", "UTC");
        let last = Some(utc("2026-11-23T06:00:00Z"));
        let d = due(
            &s,
            last,
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-23T11:20:00Z"),
            Some(Duration::seconds(600)),
        );
        assert_eq!(
            d,
            Due::Missed {
                scheduled: utc("2026-11-23T11:00:00Z"),
                next: Some(utc("2026-11-23T12:00:00Z"))
            }
        );
        // Without a deadline it is always caught up.
        let d = due(
            &s,
            last,
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-23T11:20:00Z"),
            None,
        );
        assert!(matches!(d, Due::Run { .. }));
    }

    #[test]
    fn monthly_restore_test_schedule() {
        let s = sched("0 5 1 * *", "UTC");
        let now = Utc
            .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
            .single()
            .unwrap();
        assert_eq!(s.next_after(now), Some(utc("2026-12-01T05:00:00Z")));
    }
}
