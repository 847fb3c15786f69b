//! The longest gap between consecutive fires of a schedule: what "on time" means for a
//! policy's backups, verifications and restore tests.

use chrono::{DateTime, Utc};

use crate::backup_policy::schedule::Schedule;

/// Fires looked at by [`expected_interval`] (covers more than a week of weekday schedules).
const INTERVAL_SAMPLE: usize = 32;

/// The longest gap in seconds between consecutive fires of `schedule` among the next
/// fires after `now` (DST-aware: a daily run across a fall-back change gives 25 h).
/// `None` when the schedule fires fewer than twice.
pub fn expected_interval(schedule: &Schedule, now: DateTime<Utc>) -> Option<f64> {
    let mut previous = schedule.next_after(now)?;
    let mut longest: Option<i64> = None;
    for _ in 1..INTERVAL_SAMPLE {
        let Some(next) = schedule.next_after(previous) else {
            break;
        };
        let gap = (next - previous).num_seconds();
        longest = Some(longest.map_or(gap, |l| l.max(gap)));
        previous = next;
    }
    longest.map(|s| s as f64)
}

/// [`expected_interval`] of a cron expression in a time zone; `None` when either does
/// not parse (the policy's `Ready` condition reports that).
pub fn interval_of(cron: &str, time_zone: &str, now: DateTime<Utc>) -> Option<f64> {
    let schedule = Schedule::parse(cron, time_zone, "schedule", "timeZone").ok()?;
    expected_interval(&schedule, now)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn schedule(expr: &str, tz: &str) -> Schedule {
        Schedule::parse(expr, tz, "spec.schedule", "spec.timeZone").unwrap()
    }

    #[test]
    fn the_expected_interval_is_the_longest_gap_between_fires() {
        let now = t("2026-11-23T10:30:00Z");
        assert_eq!(
            expected_interval(&schedule("0 * * * *", "UTC"), now),
            Some(3600.0)
        );
        assert_eq!(
            expected_interval(&schedule("*/15 * * * *", "UTC"), now),
            Some(900.0)
        );
        // Weekdays only: Friday 09:00 → Monday 09:00.
        assert_eq!(
            expected_interval(&schedule("0 9 * * 1-5", "Europe/Berlin"), now),
            Some(3.0 * 86_400.0)
        );
        // Twice a day, unevenly: the longer gap counts.
        assert_eq!(
            expected_interval(&schedule("0 9,17 * * *", "UTC"), now),
            Some(16.0 * 3600.0)
        );
        // Daily at 03:00 across Berlin's fall-back change (2026-10-25): a 25 h day.
        assert_eq!(
            expected_interval(
                &schedule("0 3 * * *", "Europe/Berlin"),
                t("2026-10-20T00:00:00Z")
            ),
            Some(25.0 * 3600.0)
        );
    }

    #[test]
    fn an_unparsable_schedule_has_no_interval() {
        let now = t("2026-11-23T10:30:00Z");
        assert_eq!(interval_of("0 4 * * *", "UTC", now), Some(86_400.0));
        assert_eq!(interval_of("not cron", "UTC", now), None);
        assert_eq!(interval_of("0 4 * * *", "Mars/Olympus", now), None);
    }
}
