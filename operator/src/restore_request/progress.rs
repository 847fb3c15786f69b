//! Status bookkeeping of a restore: phase changes with their timings, conditions, and
//! the total duration (the recovery time actually achieved).

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use tidemark_crd::restore_request::{PhaseTiming, RestorePhase, RestoreRequestStatus};

use crate::time::to_k8s;

/// Condition `Succeeded`: the request finished and everything it asked for worked.
pub const SUCCEEDED: &str = "Succeeded";
/// Condition `Verified`: restored row counts equal the backup's manifest.
pub const VERIFIED: &str = "Verified";

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let ms = (to - from).num_milliseconds().max(0);
    // Milliseconds of a restore fit an f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    s
}

/// `4.2s`, `1m23s`, `2h05m09s`.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    // Whole seconds of a duration under 2^53 s.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else {
        format!("{m}m{s:02}s")
    }
}

/// Closes the open phase timing at `now`.
fn close_timing(status: &mut RestoreRequestStatus, now: DateTime<Utc>) {
    if let Some(t) = status.phase_timings.last_mut()
        && t.finished_at.is_none()
    {
        t.finished_at = Some(now);
        t.duration_seconds = Some(seconds(t.started_at, now));
    }
}

/// Moves to a non-final `phase` at `now`, timing it.
pub fn enter(status: &mut RestoreRequestStatus, phase: RestorePhase, now: DateTime<Utc>) {
    close_timing(status, now);
    status.phase = phase;
    status.phase_timings.push(PhaseTiming {
        phase,
        started_at: now,
        finished_at: None,
        duration_seconds: None,
    });
}

/// Moves to a final phase at `now`: closes the timing, records completion and the
/// total duration.
pub fn finish(status: &mut RestoreRequestStatus, phase: RestorePhase, now: DateTime<Utc>) {
    close_timing(status, now);
    status.phase = phase;
    status.completed_at = Some(now);
    let started = status.started_at.unwrap_or(now);
    let total = seconds(started, now);
    status.duration_seconds = Some(total);
    status.duration = Some(human_duration(total));
}

/// Sets a condition, keeping its `lastTransitionTime` when its status does not change.
pub fn set_condition(
    status: &mut RestoreRequestStatus,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
    generation: Option<i64>,
) {
    let previous = status.conditions.iter().find(|c| c.type_ == type_);
    let since = match previous {
        Some(c) if c.status == value => Some(c.last_transition_time.clone()),
        _ => to_k8s(now),
    };
    let Some(last_transition_time) = since else {
        return;
    };
    let condition = Condition {
        type_: type_.to_string(),
        status: value.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time,
        observed_generation: generation,
    };
    match status.conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => *c = condition,
        None => status.conditions.push(condition),
    }
}

/// The condition `type_`, if set.
pub fn condition<'a>(status: &'a RestoreRequestStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// The failure recorded while writers are being restarted (`Succeeded` is `False`).
pub fn recorded_failure(status: &RestoreRequestStatus) -> Option<&Condition> {
    condition(status, SUCCEEDED).filter(|c| c.status == "False")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(4.24), "4.2s");
        assert_eq!(human_duration(83.0), "1m23s");
        assert_eq!(human_duration(7509.4), "2h05m09s");
    }
}
