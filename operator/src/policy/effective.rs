//! Settings derived from the backup schedule when the spec leaves them unset (pure).
//!
//! The schedule's *longest gap* is the longest time between two consecutive fire times,
//! in the policy's time zone, over one year from a fixed anchor (so a DST change, a
//! weekend and any irregular cron expression are covered, and the result never depends
//! on when it is computed). From it:
//!
//! - backup Job deadline = `spec.deadlineSeconds`, else 11/12 of the gap (55 minutes for
//!   an hourly schedule), between 60 s and 7 days;
//! - `rpo` = `spec.rpo`, else gap + deadline (a backup may start as late as the next fire
//!   time and take up to its deadline);
//! - `verification.maxAge` = `spec.verification.maxAge`, else gap + deadline.
//!
//! A set `rpo` or `maxAge` shorter than the gap can never hold: [`problem`] reports it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tidemark_crd::backup_policy::{BackupPolicySpec, EffectiveSettings};

use crate::schedule::Schedule;
use tidemark_crd::units::parse_time_delta;

/// Fire times are looked at over this long from [`anchor`].
pub const HORIZON_DAYS: i64 = 366;
/// At most this many fire times are looked at (a schedule every minute stops here).
pub const MAX_FIRES: usize = 20_000;
/// Deadline bounds (the schema's range of `deadlineSeconds`).
const MIN_DEADLINE: i64 = 60;
const MAX_DEADLINE: i64 = 604_800;

/// The fixed start of the horizon.
pub fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Longest time between consecutive fire times of `schedule` over [`HORIZON_DAYS`] from
/// `from` (None when it fires fewer than twice).
pub fn longest_gap(schedule: &Schedule, from: DateTime<Utc>) -> Option<Duration> {
    let end = from + Duration::days(HORIZON_DAYS);
    let mut previous = schedule.next_after(from)?;
    let mut longest: Option<Duration> = None;
    for _ in 0..MAX_FIRES {
        let Some(next) = schedule.next_after(previous) else {
            break;
        };
        let gap = next - previous;
        longest = Some(longest.map_or(gap, |l| l.max(gap)));
        if next > end {
            break;
        }
        previous = next;
    }
    longest
}

/// Compact duration text that [`parse_time_delta`] reads back (`1h55m`, `46h`, `90s`).
pub fn duration_text(d: Duration) -> String {
    let total = d.num_seconds().max(0);
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The values in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    pub longest_gap: Duration,
    pub deadline_seconds: i64,
    pub rpo: Duration,
    pub max_age: Duration,
}

impl Effective {
    /// For `status.effective`.
    pub fn settings(&self) -> EffectiveSettings {
        EffectiveSettings {
            longest_gap: duration_text(self.longest_gap),
            rpo: duration_text(self.rpo),
            max_age: duration_text(self.max_age),
            deadline_seconds: self.deadline_seconds,
        }
    }
}

/// The effective settings of `spec` (None when the schedule, time zone or a set
/// duration is invalid: validation reports those).
pub fn of(spec: &BackupPolicySpec) -> Option<Effective> {
    let schedule = Schedule::parse(
        &spec.schedule,
        &spec.time_zone,
        "spec.schedule",
        "spec.timeZone",
    )
    .ok()?;
    let gap = memoised_gap(&spec.schedule, &spec.time_zone, &schedule)?;
    derive(spec, gap)
}

/// Distinct schedules whose gap is remembered at most; the memo starts over beyond that.
const GAP_MEMO_LIMIT: usize = 4096;

/// A schedule's expression and time zone.
type GapKey = (String, String);

/// Longest gaps by expression and time zone. A reconcile reads the effective settings
/// several times (conditions, decide, status, Job builders), and one gap walks up to
/// [`MAX_FIRES`] fire times: at a 1,000-policy tick that would dominate the operator's
/// CPU. The anchor is fixed, so the same schedule always has the same gap.
static GAPS: LazyLock<Mutex<HashMap<GapKey, Option<Duration>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn memoised_gap(expr: &str, tz: &str, schedule: &Schedule) -> Option<Duration> {
    let key = (expr.to_string(), tz.to_string());
    if let Some(hit) = GAPS.lock().ok().and_then(|m| m.get(&key).copied()) {
        return hit;
    }
    let gap = longest_gap(schedule, anchor());
    if let Ok(mut memo) = GAPS.lock() {
        if memo.len() >= GAP_MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(key, gap);
    }
    gap
}

/// The effective settings of `spec` for a schedule whose longest gap is `gap`.
pub fn derive(spec: &BackupPolicySpec, gap: Duration) -> Option<Effective> {
    let deadline_seconds = spec
        .deadline_seconds
        .unwrap_or_else(|| (gap.num_seconds() * 11 / 12).clamp(MIN_DEADLINE, MAX_DEADLINE));
    let derived = gap + Duration::seconds(deadline_seconds);
    let rpo = match &spec.rpo {
        Some(text) => parse_time_delta(text)?,
        None => derived,
    };
    let max_age = match &spec.verification.max_age {
        Some(text) => parse_time_delta(text)?,
        None => derived,
    };
    Some(Effective {
        longest_gap: gap,
        deadline_seconds,
        rpo,
        max_age,
    })
}

/// The backup Job deadline in use (`spec.deadlineSeconds`, else derived; one hour when
/// the schedule cannot be evaluated, which validation reports).
pub fn deadline_seconds(spec: &BackupPolicySpec) -> i64 {
    of(spec).map_or(spec.deadline_seconds.unwrap_or(3_600), |e| {
        e.deadline_seconds
    })
}

/// A set value that cannot hold against the schedule: (reason, message naming both
/// fields).
pub fn problem(spec: &BackupPolicySpec, e: &Effective) -> Option<(&'static str, String)> {
    let gap = duration_text(e.longest_gap);
    if spec.rpo.is_some() && e.rpo < e.longest_gap {
        return Some((
            "RPOShorterThanSchedule",
            format!(
                "spec.rpo: {} is shorter than the longest gap between backups of \
                 spec.schedule {:?} ({gap}), so BackupFresh would turn False between \
                 runs; set spec.rpo to at least {gap} (or unset it) or schedule more often",
                duration_text(e.rpo),
                spec.schedule
            ),
        ));
    }
    if spec.verification.enabled && spec.verification.max_age.is_some() && e.max_age < e.longest_gap
    {
        return Some((
            "MaxAgeShorterThanSchedule",
            format!(
                "spec.verification.maxAge: {} is shorter than the longest gap between \
                 backups of spec.schedule {:?} ({gap}), so verification would fail between \
                 runs; set it to at least {gap} (or unset it) or schedule more often",
                duration_text(e.max_age),
                spec.schedule
            ),
        ));
    }
    None
}
