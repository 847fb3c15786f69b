//! Checks of a BackupPolicy's spec that need no Secret and no network: schedules, time
//! zone and durations. Each error names the field, so the user knows what to fix.

use tidemark_crd::backup_policy::BackupPolicySpec;

use crate::schedule::{Schedule, ScheduleError};
use tidemark_crd::units::parse_time_delta;

/// An invalid field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// Condition reason: `InvalidSchedule`, `UnknownTimeZone`, `InvalidDuration`.
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

/// The first invalid field of `spec`, if any.
pub fn validate(spec: &BackupPolicySpec) -> Result<(), SpecError> {
    let tz = spec.time_zone.as_str();
    Schedule::parse(&spec.schedule, tz, "spec.schedule", "spec.timeZone")?;
    if spec.verification.enabled {
        Schedule::parse(
            &spec.verification.schedule,
            tz,
            "spec.verification.schedule",
            "spec.timeZone",
        )?;
        if let Some(max_age) = &spec.verification.max_age {
            duration("spec.verification.maxAge", max_age)?;
        }
    }
    if let Some(rt) = spec.restore_test.as_ref().filter(|rt| rt.enabled) {
        Schedule::parse(
            &rt.schedule,
            tz,
            "spec.restoreTest.schedule",
            "spec.timeZone",
        )?;
    }
    if let Some(rpo) = &spec.rpo {
        duration("spec.rpo", rpo)?;
    }
    Ok(())
}
