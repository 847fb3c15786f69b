//! The per-policy gauges, read from what the BackupPolicy's spec and status hold. The
//! status lives in the API server, so these values are the same after an operator
//! restart or a leader change: the first reconcile of each policy sets them again.
//! Pure: [`policy_series`] computes, [`super::Metrics::record_policy`] stores.

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::{BackupPolicySpec, BackupPolicyStatus};

use super::interval::interval_of;
use crate::policy::conditions::READY;
use crate::policy::effective;
use crate::time::to_chrono;
use tidemark_crd::units::parse_time_delta;

/// Annotation of a BackupPolicy: `"true"` keeps its freshness and schedule alerts on
/// while `spec.suspend` is set (exported as `tidemark_policy_alert_when_suspended`).
pub const ALERT_WHEN_SUSPENDED: &str = "tidemark.dev/alert-when-suspended";

/// One gauge per policy (labels `namespace`, `policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyGauge {
    LastSuccess,
    ConsecutiveFailures,
    Rpo,
    ExpectedInterval,
    Size,
    Duration,
    OldestRestorable,
    NewestRestorable,
    Retained,
    NextSchedule,
    VerificationLastRun,
    VerificationPassed,
    VerificationInterval,
    RestoreTestLastRun,
    RestoreTestPassed,
    RestoreTestDuration,
    RestoreTestInterval,
    Ready,
    Suspended,
    AlertWhenSuspended,
    Created,
}

impl PolicyGauge {
    /// Every gauge, in registration order.
    pub const ALL: [PolicyGauge; 21] = [
        PolicyGauge::LastSuccess,
        PolicyGauge::ConsecutiveFailures,
        PolicyGauge::Rpo,
        PolicyGauge::ExpectedInterval,
        PolicyGauge::Size,
        PolicyGauge::Duration,
        PolicyGauge::OldestRestorable,
        PolicyGauge::NewestRestorable,
        PolicyGauge::Retained,
        PolicyGauge::NextSchedule,
        PolicyGauge::VerificationLastRun,
        PolicyGauge::VerificationPassed,
        PolicyGauge::VerificationInterval,
        PolicyGauge::RestoreTestLastRun,
        PolicyGauge::RestoreTestPassed,
        PolicyGauge::RestoreTestDuration,
        PolicyGauge::RestoreTestInterval,
        PolicyGauge::Ready,
        PolicyGauge::Suspended,
        PolicyGauge::AlertWhenSuspended,
        PolicyGauge::Created,
    ];

    /// Position in [`PolicyGauge::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Metric name.
    pub fn name(self) -> &'static str {
        match self {
            Self::LastSuccess => "tidemark_backup_last_success_timestamp_seconds",
            Self::ConsecutiveFailures => "tidemark_backup_consecutive_failures",
            Self::Rpo => "tidemark_backup_rpo_seconds",
            Self::ExpectedInterval => "tidemark_backup_expected_interval_seconds",
            Self::Size => "tidemark_backup_size_bytes",
            Self::Duration => "tidemark_backup_duration_seconds",
            Self::OldestRestorable => "tidemark_backup_oldest_restorable_timestamp_seconds",
            Self::NewestRestorable => "tidemark_backup_newest_restorable_timestamp_seconds",
            Self::Retained => "tidemark_backup_retained",
            Self::NextSchedule => "tidemark_backup_next_schedule_timestamp_seconds",
            Self::VerificationLastRun => "tidemark_verification_last_run_timestamp_seconds",
            Self::VerificationPassed => "tidemark_verification_passed",
            Self::VerificationInterval => "tidemark_verification_expected_interval_seconds",
            Self::RestoreTestLastRun => "tidemark_restore_test_last_run_timestamp_seconds",
            Self::RestoreTestPassed => "tidemark_restore_test_passed",
            Self::RestoreTestDuration => "tidemark_restore_test_duration_seconds",
            Self::RestoreTestInterval => "tidemark_restore_test_expected_interval_seconds",
            Self::Ready => "tidemark_policy_ready",
            Self::Suspended => "tidemark_policy_suspended",
            Self::AlertWhenSuspended => "tidemark_policy_alert_when_suspended",
            Self::Created => "tidemark_policy_created_timestamp_seconds",
        }
    }

    /// Help text.
    pub fn help(self) -> &'static str {
        match self {
            Self::LastSuccess => "Completion time of the newest successful backup (Unix seconds)",
            Self::ConsecutiveFailures => {
                "Failed backups since the last successful one (status.consecutiveFailures)"
            }
            Self::Rpo => "The policy's recovery point objective in seconds",
            Self::ExpectedInterval => {
                "Longest gap between consecutive fires of the backup schedule"
            }
            Self::Size => "Stored size of the newest successful backup",
            Self::Duration => "Wall time of the newest successful backup",
            Self::OldestRestorable => "Completion time of the oldest retained backup",
            Self::NewestRestorable => "Completion time of the newest retained backup",
            Self::Retained => "Number of retained backups",
            Self::NextSchedule => "When the next backup is scheduled (absent while suspended)",
            Self::VerificationLastRun => "When the last verification finished",
            Self::VerificationPassed => "1 when the last verification passed, else 0",
            Self::VerificationInterval => {
                "Longest gap between consecutive fires of the verification schedule"
            }
            Self::RestoreTestLastRun => "When the last restore test finished",
            Self::RestoreTestPassed => "1 when the last restore test passed, else 0",
            Self::RestoreTestDuration => {
                "Measured restore time of the last restore test (the achieved RTO)"
            }
            Self::RestoreTestInterval => {
                "Longest gap between consecutive fires of the restore-test schedule"
            }
            Self::Ready => "1 when the Ready condition is True, else 0",
            Self::Suspended => "1 when spec.suspend is set, else 0",
            Self::AlertWhenSuspended => {
                "1 when the annotation tidemark.dev/alert-when-suspended is \"true\", else 0"
            }
            Self::Created => "Creation time of the policy (Unix seconds)",
        }
    }
}

/// The most recent failed run of a policy (`status.lastFailure`).
#[derive(Clone, Debug, PartialEq)]
pub struct LastFailure {
    pub kind: String,
    pub reason: String,
    pub at: f64,
}

/// The values of one policy's series; a gauge missing from `gauges` has no series.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySeries {
    pub gauges: Vec<(PolicyGauge, f64)>,
    pub last_failure: Option<LastFailure>,
}

impl PolicySeries {
    /// The value of `gauge`, if it has a series.
    pub fn get(&self, gauge: PolicyGauge) -> Option<f64> {
        self.gauges
            .iter()
            .find(|(g, _)| *g == gauge)
            .map(|(_, v)| *v)
    }
}

/// Unix seconds with milliseconds.
pub fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The RPO the freshness alert compares with, in seconds: the one in use, as the status
/// publishes it (`status.effective.rpo`: `spec.rpo`, else derived from the schedule).
pub fn rpo_seconds(spec: &BackupPolicySpec, status: &BackupPolicyStatus) -> Option<f64> {
    let published = status
        .effective
        .as_ref()
        .and_then(|e| parse_time_delta(&e.rpo));
    published
        .or_else(|| spec.rpo.as_deref().and_then(parse_time_delta))
        .or_else(|| effective::of(spec).map(|e| e.rpo))
        .map(|d| d.num_milliseconds() as f64 / 1000.0)
}

/// Every series of `policy` given its newest `status` (which may be newer than the
/// cached object's) at `now` (for the schedules' intervals).
pub fn policy_series(
    policy: &BackupPolicy,
    status: &BackupPolicyStatus,
    now: DateTime<Utc>,
) -> PolicySeries {
    use PolicyGauge as G;
    let spec = &policy.spec;
    let tz = &spec.time_zone;
    let mut g: Vec<(PolicyGauge, Option<f64>)> = vec![
        (
            G::ConsecutiveFailures,
            Some(f64::from(status.consecutive_failures)),
        ),
        (G::Rpo, rpo_seconds(spec, status)),
        (G::ExpectedInterval, interval_of(&spec.schedule, tz, now)),
        (G::Retained, Some(f64::from(status.backup_count))),
        (G::NextSchedule, status.next_schedule_time.map(seconds)),
        (G::Suspended, Some(flag(spec.suspend))),
        (
            G::AlertWhenSuspended,
            Some(flag(
                policy
                    .annotations()
                    .get(ALERT_WHEN_SUSPENDED)
                    .map(String::as_str)
                    == Some("true"),
            )),
        ),
        (
            G::Ready,
            Some(flag(
                status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == READY && c.status == "True"),
            )),
        ),
        (
            G::Created,
            policy
                .metadata
                .creation_timestamp
                .as_ref()
                .and_then(to_chrono)
                .map(seconds),
        ),
    ];
    if let Some(b) = &status.last_backup {
        g.push((G::LastSuccess, Some(seconds(b.completed_at))));
        g.push((G::Size, Some(b.stored_bytes as f64)));
        g.push((G::Duration, Some(b.duration_seconds)));
    }
    if let Some(w) = &status.window {
        g.push((G::OldestRestorable, Some(seconds(w.oldest))));
        g.push((G::NewestRestorable, Some(seconds(w.newest))));
    }
    if spec.verification.enabled {
        g.push((
            G::VerificationInterval,
            interval_of(&spec.verification.schedule, tz, now),
        ));
        if let Some(v) = &status.last_verification {
            g.push((G::VerificationLastRun, Some(seconds(v.time))));
            g.push((G::VerificationPassed, Some(flag(v.passed))));
        }
    }
    if let Some(rt) = spec.restore_test.as_ref().filter(|rt| rt.enabled) {
        g.push((G::RestoreTestInterval, interval_of(&rt.schedule, tz, now)));
        if let Some(t) = &status.last_restore_test {
            g.push((G::RestoreTestLastRun, Some(seconds(t.time))));
            g.push((G::RestoreTestPassed, Some(flag(t.passed))));
            g.push((G::RestoreTestDuration, t.restore_duration_seconds));
        }
    }
    let mut gauges: Vec<(PolicyGauge, f64)> = g
        .into_iter()
        .filter_map(|(gauge, v)| v.map(|v| (gauge, v)))
        .collect();
    gauges.sort_by_key(|(gauge, _)| gauge.index());
    PolicySeries {
        gauges,
        last_failure: status.last_failure.as_ref().map(|f| LastFailure {
            kind: f.kind.clone(),
            reason: f.reason.clone(),
            at: seconds(f.time),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::minimal_policy;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const NOW: &str = "2026-11-23T10:30:00Z";

    fn series(edit: impl FnOnce(&mut serde_json::Value)) -> PolicySeries {
        let p = minimal_policy(edit);
        let status = p.status.clone().unwrap_or_default();
        policy_series(&p, &status, t(NOW))
    }

    #[test]
    fn a_new_policy_exports_zero_failures_and_its_own_rpo() {
        let s = series(|v| {
            v["metadata"]["creationTimestamp"] = json!("2026-11-23T10:00:00Z");
            v["spec"]["rpo"] = json!("90m");
        });
        assert_eq!(s.get(PolicyGauge::ConsecutiveFailures), Some(0.0));
        assert_eq!(s.get(PolicyGauge::Rpo), Some(5400.0));
        assert_eq!(s.get(PolicyGauge::ExpectedInterval), Some(3600.0));
        assert_eq!(s.get(PolicyGauge::Suspended), Some(0.0));
        assert_eq!(s.get(PolicyGauge::AlertWhenSuspended), Some(0.0));
        assert_eq!(
            s.get(PolicyGauge::Ready),
            Some(0.0),
            "no Ready condition yet"
        );
        assert_eq!(s.get(PolicyGauge::Created), Some(1_795_428_000.0));
        // Verification is on by default (daily at 04:00); no result yet.
        assert_eq!(s.get(PolicyGauge::VerificationInterval), Some(86_400.0));
        for absent in [
            PolicyGauge::LastSuccess,
            PolicyGauge::Size,
            PolicyGauge::VerificationPassed,
            PolicyGauge::VerificationLastRun,
            PolicyGauge::RestoreTestInterval,
            PolicyGauge::RestoreTestPassed,
            PolicyGauge::OldestRestorable,
            PolicyGauge::NextSchedule,
        ] {
            assert_eq!(s.get(absent), None, "{absent:?}");
        }
        assert_eq!(s.last_failure, None);
    }

    #[test]
    fn every_status_field_becomes_its_gauge() {
        let s = series(|v| {
            v["spec"]["suspend"] = json!(true);
            v["metadata"]["annotations"] = json!({ALERT_WHEN_SUSPENDED: "true"});
            v["spec"]["restoreTest"] = json!({"schedule": "0 5 * * 0"});
            v["status"] = json!({
                "consecutiveFailures": 2,
                "backupCount": 3,
                "nextScheduleTime": "2026-11-23T11:00:00Z",
                "conditions": [{"type": "Ready", "status": "True", "reason": "Scheduled",
                                "message": "", "lastTransitionTime": "2026-11-23T10:00:00Z"}],
                "lastBackup": {"key": "k", "startedAt": "2026-11-23T09:59:00Z",
                               "completedAt": "2026-11-23T10:00:01.500Z", "storedBytes": 1234,
                               "rawBytes": 9999, "size": "1.2 KiB", "sha256": "ab",
                               "totalRows": 7, "tableCount": 1, "durationSeconds": 61.5},
                "lastFailure": {"time": "2026-11-23T10:20:00Z", "kind": "prune",
                                "reason": "S3Error", "message": "m"},
                "window": {"oldest": "2026-11-20T00:00:00Z", "newest": "2026-11-23T10:00:01Z"},
                "lastVerification": {"time": "2026-11-23T04:01:00Z", "passed": false},
                "lastRestoreTest": {"time": "2026-11-22T05:10:00Z", "passed": true,
                                    "tablesCompared": 5, "restoreDurationSeconds": 42.0},
            });
        });
        let g = |gauge| s.get(gauge).unwrap();
        assert_eq!(g(PolicyGauge::ConsecutiveFailures), 2.0);
        assert_eq!(g(PolicyGauge::Retained), 3.0);
        assert_eq!(g(PolicyGauge::NextSchedule), 1_795_431_600.0);
        assert_eq!(g(PolicyGauge::Ready), 1.0);
        assert_eq!(g(PolicyGauge::Suspended), 1.0);
        assert_eq!(g(PolicyGauge::AlertWhenSuspended), 1.0);
        assert_eq!(g(PolicyGauge::LastSuccess), 1_795_428_001.5);
        assert_eq!(g(PolicyGauge::Size), 1234.0);
        assert_eq!(g(PolicyGauge::Duration), 61.5);
        assert_eq!(g(PolicyGauge::OldestRestorable), 1_795_132_800.0);
        assert_eq!(g(PolicyGauge::NewestRestorable), 1_795_428_001.0);
        assert_eq!(g(PolicyGauge::VerificationPassed), 0.0);
        assert_eq!(g(PolicyGauge::VerificationLastRun), 1_795_406_460.0);
        assert_eq!(g(PolicyGauge::RestoreTestPassed), 1.0);
        assert_eq!(g(PolicyGauge::RestoreTestDuration), 42.0);
        assert_eq!(g(PolicyGauge::RestoreTestLastRun), 1_795_324_200.0);
        assert_eq!(g(PolicyGauge::RestoreTestInterval), 7.0 * 86_400.0);
        assert_eq!(
            s.last_failure,
            Some(LastFailure {
                kind: "prune".into(),
                reason: "S3Error".into(),
                at: 1_795_429_200.0
            })
        );
    }

    #[test]
    fn a_disabled_check_exports_nothing_about_it() {
        let s = series(|v| {
            v["spec"]["verification"] = json!({"enabled": false});
            v["spec"]["restoreTest"] = json!({"enabled": false});
            v["status"]["lastVerification"] =
                json!({"time": "2026-11-23T04:01:00Z", "passed": false});
            v["status"]["lastRestoreTest"] =
                json!({"time": "2026-11-22T05:10:00Z", "passed": false, "tablesCompared": 0});
        });
        for absent in [
            PolicyGauge::VerificationInterval,
            PolicyGauge::VerificationPassed,
            PolicyGauge::VerificationLastRun,
            PolicyGauge::RestoreTestInterval,
            PolicyGauge::RestoreTestPassed,
            PolicyGauge::RestoreTestLastRun,
        ] {
            assert_eq!(s.get(absent), None, "{absent:?}");
        }
    }

    #[test]
    fn only_the_exact_annotation_value_opts_in() {
        for (value, want) in [("true", 1.0), ("True", 0.0), ("yes", 0.0), ("", 0.0)] {
            let s = series(|v| v["metadata"]["annotations"] = json!({ALERT_WHEN_SUSPENDED: value}));
            assert_eq!(
                s.get(PolicyGauge::AlertWhenSuspended),
                Some(want),
                "{value:?}"
            );
        }
    }

    #[test]
    fn every_gauge_has_a_distinct_name_in_order() {
        let mut names: Vec<_> = PolicyGauge::ALL.iter().map(|g| g.name()).collect();
        for (i, g) in PolicyGauge::ALL.iter().enumerate() {
            assert_eq!(g.index(), i);
            assert!(g.name().starts_with("tidemark_"));
            assert!(!g.help().is_empty());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PolicyGauge::ALL.len());
    }
}
