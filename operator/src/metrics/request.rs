//! The per-RestoreRequest gauges, read from the request's status (pure), so a restart
//! or a leader change shows the same values once the requests are reconciled again.

use tidemark_crd::restore_request::{RestorePhase, RestoreRequestStatus};

use super::policy::seconds;

/// One gauge per RestoreRequest (labels `namespace`, `request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestGauge {
    Failed,
    Completed,
    Duration,
}

impl RequestGauge {
    /// Every gauge, in registration order.
    pub const ALL: [RequestGauge; 3] = [
        RequestGauge::Failed,
        RequestGauge::Completed,
        RequestGauge::Duration,
    ];

    /// Position in [`RequestGauge::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Metric name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Failed => "tidemark_restore_request_failed",
            Self::Completed => "tidemark_restore_request_completed_timestamp_seconds",
            Self::Duration => "tidemark_restore_request_duration_seconds",
        }
    }

    /// Help text.
    pub fn help(self) -> &'static str {
        match self {
            Self::Failed => "1 when the RestoreRequest's phase is Failed, else 0",
            Self::Completed => "When the RestoreRequest finished (Unix seconds)",
            Self::Duration => {
                "Measured duration of a finished RestoreRequest (the recovery time achieved)"
            }
        }
    }
}

/// The values of one request's series given its status (none yet: a new request); a
/// gauge missing here has no series.
pub fn request_series(status: Option<&RestoreRequestStatus>) -> Vec<(RequestGauge, f64)> {
    let status = status.cloned().unwrap_or_default();
    let failed = if status.phase == RestorePhase::Failed {
        1.0
    } else {
        0.0
    };
    let mut out = vec![(RequestGauge::Failed, failed)];
    if status.phase.is_terminal() {
        if let Some(t) = status.completed_at {
            out.push((RequestGauge::Completed, seconds(t)));
        }
        if let Some(d) = status.duration_seconds {
            out.push((RequestGauge::Duration, d));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn series(status: Value) -> Vec<(RequestGauge, f64)> {
        let status: RestoreRequestStatus = serde_json::from_value(status).unwrap();
        request_series(Some(&status))
    }

    #[test]
    fn a_new_or_running_request_is_not_failed_and_has_no_duration() {
        assert_eq!(request_series(None), vec![(RequestGauge::Failed, 0.0)]);
        let running = series(json!({"phase": "Restoring", "startedAt": "2026-11-23T10:00:00Z"}));
        assert_eq!(running, vec![(RequestGauge::Failed, 0.0)]);
    }

    #[test]
    fn a_finished_request_exports_its_outcome_time_and_duration() {
        let failed = series(
            json!({"phase": "Failed", "completedAt": "2026-11-23T10:00:00Z",
                                   "durationSeconds": 12.5}),
        );
        assert_eq!(
            failed,
            vec![
                (RequestGauge::Failed, 1.0),
                (RequestGauge::Completed, 1_795_428_000.0),
                (RequestGauge::Duration, 12.5)
            ]
        );
        let ok = series(
            json!({"phase": "Succeeded", "completedAt": "2026-11-23T10:00:00Z",
                               "durationSeconds": 3.0}),
        );
        assert_eq!(ok[0], (RequestGauge::Failed, 0.0));
        assert_eq!(ok.len(), 3);
    }
}
