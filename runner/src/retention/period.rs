//! The calendar period of a tier that an instant falls in, in a time zone.

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

use super::Tier;

/// Identity of one period of one tier. Values of different tiers are never compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Period {
    /// A local wall-clock hour: the instant at which it nominally starts (local `HH:00`
    /// at the offset in force) and that UTC offset in seconds. Using the instant, not
    /// the local `date + hour`, keeps the two `01:xx` hours of a fall-back night apart;
    /// the offset keeps apart the two hours whose nominal starts coincide when a zone
    /// changes offset in the middle of an hour (`Pacific/Chatham` changes at `:45`).
    Hour(DateTime<Utc>, i32),
    /// Local calendar date.
    Day(NaiveDate),
    /// Local date of the Monday that starts the ISO week.
    Week(NaiveDate),
    /// Local calendar year and month.
    Month(i32, u32),
    /// Local calendar year.
    Year(i32),
}

/// The period of `tier` containing `at` in time zone `tz`; `None` for [`Tier::Latest`],
/// which is not periodic.
pub(crate) fn period_of(tier: Tier, at: DateTime<Utc>, tz: Tz) -> Option<Period> {
    let local = at.with_timezone(&tz);
    let date = local.date_naive();
    match tier {
        Tier::Latest => None,
        Tier::Hourly => Some(Period::Hour(
            local_hour_start(at, &local),
            local.offset().fix().local_minus_utc(),
        )),
        Tier::Daily => Some(Period::Day(date)),
        Tier::Weekly => {
            let into_week = i64::from(date.weekday().num_days_from_monday());
            let monday = date
                .checked_sub_signed(TimeDelta::days(into_week))
                .unwrap_or(date);
            Some(Period::Week(monday))
        }
        Tier::Monthly => Some(Period::Month(date.year(), date.month())),
        Tier::Yearly => Some(Period::Year(date.year())),
    }
}

/// `at` minus the minutes, seconds and fraction already elapsed in the local hour.
fn local_hour_start(at: DateTime<Utc>, local: &DateTime<Tz>) -> DateTime<Utc> {
    let into_hour = TimeDelta::minutes(i64::from(local.minute()))
        + TimeDelta::seconds(i64::from(local.second()))
        + TimeDelta::nanoseconds(i64::from(local.nanosecond()));
    at.checked_sub_signed(into_hour).unwrap_or(at)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fall_back_hours_are_two_periods() {
        let tz = chrono_tz::America::New_York;
        let first = period_of(Tier::Hourly, utc("2026-11-01T05:30:00Z"), tz);
        let second = period_of(Tier::Hourly, utc("2026-11-01T06:30:00Z"), tz);
        let edt = -4 * 3600;
        let est = -5 * 3600;
        assert_eq!(first, Some(Period::Hour(utc("2026-11-01T05:00:00Z"), edt)));
        assert_eq!(second, Some(Period::Hour(utc("2026-11-01T06:00:00Z"), est)));
    }

    #[test]
    fn hours_split_by_a_mid_hour_offset_change_are_two_periods() {
        // Chatham falls back from 03:45 +13:45 to 02:45 +12:45 at 14:00Z: local 03:xx
        // before and 02:xx after both nominally start at 13:15Z.
        let tz = chrono_tz::Pacific::Chatham;
        let before = period_of(Tier::Hourly, utc("2026-04-04T13:50:00Z"), tz);
        let after = period_of(Tier::Hourly, utc("2026-04-04T14:10:00Z"), tz);
        assert_ne!(before, after);
    }

    #[test]
    fn half_hour_offset_hours_start_at_local_minute_zero() {
        let tz = chrono_tz::Asia::Kolkata;
        let p = period_of(Tier::Hourly, utc("2026-05-10T18:45:00Z"), tz);
        let ist = 5 * 3600 + 1800;
        assert_eq!(p, Some(Period::Hour(utc("2026-05-10T18:30:00Z"), ist)));
    }

    #[test]
    fn iso_week_starts_on_monday_in_local_time() {
        let tz = chrono_tz::Europe::Berlin;
        // Sunday 23:30 UTC is already Monday 00:30 in Berlin.
        let at = Utc.with_ymd_and_hms(2026, 3, 15, 23, 30, 0).unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
        assert_eq!(period_of(Tier::Weekly, at, tz), Some(Period::Week(monday)));
        assert_eq!(period_of(Tier::Latest, at, tz), None);
    }
}
