//! Checks of a BackupPolicy's spec that need no Secret and no network: schedules, time
//! zone, durations and quantities. Each error names the field, so the user knows what
//! to fix. What passes comes back parsed ([`ParsedSpec`]): nothing after validation
//! parses the spec again, so deciding and building cannot fail on it.

use tidemark_crd::backup_policy::BackupPolicySpec;

use super::effective::{self, Effective};
use super::schedule::{Schedule, ScheduleError};
use tidemark_crd::units::{parse_size, parse_time_delta};

/// An invalid field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// Condition reason: `InvalidSchedule`, `UnknownTimeZone`, `InvalidDuration`,
    /// `InvalidQuantity`.
    pub reason: &'static str,
    /// The message, starting with the field path (`spec.schedule: …`).
    pub message: String,
}

impl From<ScheduleError> for SpecError {
    fn from(e: ScheduleError) -> Self {
        let reason = match e {
            ScheduleError::UnknownTimeZone { .. } => "UnknownTimeZone",
            ScheduleError::InvalidCron { .. } | ScheduleError::NeverFires { .. } => {
                "InvalidSchedule"
            }
        };
        Self {
            reason,
            message: e.to_string(),
        }
    }
}

/// A spec that validated, with everything it says parsed once: the schedules in its
/// time zone, the durations and quantities, and the settings derived from them.
#[derive(Clone, Debug)]
pub struct ParsedSpec<'a> {
    /// The spec as written.
    pub spec: &'a BackupPolicySpec,
    /// `spec.schedule`.
    pub backup: Schedule,
    /// `spec.verification.schedule`, when verification is enabled.
    pub verification: Option<Schedule>,
    /// `spec.restoreTest.schedule`, when restore tests are enabled.
    pub restore_test: Option<Schedule>,
    /// The deadline, rpo and maxAge in use, and the schedule's longest gap.
    pub effective: Effective,
    /// `spec.verification.minSize` in bytes.
    pub verify_min_size: Option<u64>,
}

fn duration(field: &str, value: &str) -> Result<(), SpecError> {
    match parse_time_delta(value) {
        Some(d) if d > chrono::Duration::zero() => Ok(()),
        _ => Err(SpecError {
            reason: "InvalidDuration",
            message: format!(
                "{field}: invalid duration {value:?} (expected e.g. 90m, 1h, 1h30m, 168h)"
            ),
        }),
    }
}

/// The spec parsed, or its first invalid field.
pub fn validate(spec: &BackupPolicySpec) -> Result<ParsedSpec<'_>, SpecError> {
    let tz = spec.time_zone.as_str();
    let backup = Schedule::parse(&spec.schedule, tz, "spec.schedule", "spec.timeZone")?;
    let mut verification = None;
    if spec.verification.enabled {
        verification = Some(Schedule::parse(
            &spec.verification.schedule,
            tz,
            "spec.verification.schedule",
            "spec.timeZone",
        )?);
        if let Some(max_age) = &spec.verification.max_age {
            duration("spec.verification.maxAge", max_age)?;
        }
    }
    let restore_test = match spec.restore_test.as_ref().filter(|rt| rt.enabled) {
        Some(rt) => Some(Schedule::parse(
            &rt.schedule,
            tz,
            "spec.restoreTest.schedule",
            "spec.timeZone",
        )?),
        None => None,
    };
    if let Some(rpo) = &spec.rpo {
        duration("spec.rpo", rpo)?;
    }
    let verify_min_size = match &spec.verification.min_size {
        Some(text) if spec.verification.enabled => {
            Some(parse_size(text).map_err(|_| SpecError {
                reason: "InvalidQuantity",
                message: format!(
                    "spec.verification.minSize: invalid quantity {text:?} (expected e.g. 1Mi, 500M)"
                ),
            })?)
        }
        _ => None,
    };
    let effective = effective::of_schedule(spec, &backup).ok_or_else(|| SpecError {
        reason: "InvalidSchedule",
        message: format!(
            "spec.schedule: cron expression {:?} fires too seldom to derive a deadline \
             (fewer than two fire times)",
            spec.schedule
        ),
    })?;
    Ok(ParsedSpec {
        spec,
        backup,
        verification,
        restore_test,
        effective,
        verify_min_size,
    })
}
