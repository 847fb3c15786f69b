//! Prometheus metrics of the operator (OpenMetrics text on `/metrics`, see [`crate::http`]).
//!
//! Per policy (labels `namespace`, `policy`):
//! - `tidemark_backup_last_success_timestamp_seconds`: completion time of the newest
//!   successful backup;
//! - `tidemark_backup_expected_interval_seconds`: the longest gap between consecutive fires
//!   of the backup schedule ([`expected_interval`]), so one alert rule fits every schedule:
//!   `time() - tidemark_backup_last_success_timestamp_seconds > 2 * tidemark_backup_expected_interval_seconds`;
//! - `tidemark_backup_size_bytes`: stored size of the newest backup;
//! - `tidemark_run_duration_seconds` (histogram, plus `kind`) and `tidemark_runs_total`
//!   (plus `kind`, `outcome` = `succeeded`|`failed`, `reason`);
//! - `tidemark_verification_passed`, `tidemark_restore_test_passed` (1 or 0) and
//!   `tidemark_restore_test_duration_seconds` (the measured restore time of the last test).
//!
//! Per namespace: `tidemark_restores_total{namespace,outcome}` and the histogram
//! `tidemark_restore_duration_seconds{namespace}`. Operator-wide:
//! `tidemark_reconciles_total{controller}`, `tidemark_reconcile_errors_total{controller,reason}`
//! and `tidemark_leader` (1 on the replica that holds the Lease).
//!
//! [`Metrics::forget_policy`] removes every series of a deleted policy.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::naming::RunKind;
use crate::schedule::Schedule;

/// Fires looked at by [`expected_interval`] (covers more than a week of weekday schedules).
const INTERVAL_SAMPLE: usize = 32;

/// Content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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

/// `namespace`, `policy`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    namespace: String,
    policy: String,
}

/// `namespace`, `policy`, `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    namespace: String,
    policy: String,
    kind: String,
}

/// Outcome of a finished run: label value `succeeded` or `failed`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

impl Outcome {
    /// `Succeeded` when `ok`, else `Failed`.
    pub fn of(ok: bool) -> Self {
        if ok { Self::Succeeded } else { Self::Failed }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// `namespace`, `policy`, `kind`, `outcome`, `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    namespace: String,
    policy: String,
    kind: String,
    outcome: Outcome,
    reason: String,
}

/// `namespace`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RestoreLabels {
    namespace: String,
    outcome: Outcome,
}

/// `namespace`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceLabels {
    namespace: String,
}

/// `controller`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

/// `controller`, `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerErrorLabels {
    controller: String,
    reason: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Durations from 1 s to about 9 h.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

/// The operator's metrics. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    last_success: Family<PolicyLabels, FloatGauge>,
    expected_interval: Family<PolicyLabels, FloatGauge>,
    backup_size: Family<PolicyLabels, Gauge>,
    run_duration: HistogramFamily<KindLabels>,
    runs: Family<RunLabels, Counter>,
    verification_passed: Family<PolicyLabels, Gauge>,
    restore_test_passed: Family<PolicyLabels, Gauge>,
    restore_test_duration: Family<PolicyLabels, FloatGauge>,
    restores: Family<RestoreLabels, Counter>,
    restore_duration: HistogramFamily<NamespaceLabels>,
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ControllerErrorLabels, Counter>,
    leader: Gauge,
    /// The `runs` label sets of each policy (their `outcome`/`reason` vary), for
    /// [`Metrics::forget_policy`].
    run_series: Mutex<HashMap<PolicyLabels, HashSet<RunLabels>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn policy(namespace: &str, name: &str) -> PolicyLabels {
    PolicyLabels {
        namespace: namespace.to_string(),
        policy: name.to_string(),
    }
}

impl Metrics {
    /// A registry with every metric registered (and no series yet).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let last_success = Family::<PolicyLabels, FloatGauge>::default();
        registry.register(
            "tidemark_backup_last_success_timestamp_seconds",
            "Completion time of the newest successful backup (Unix seconds)",
            last_success.clone(),
        );
        let expected_interval = Family::<PolicyLabels, FloatGauge>::default();
        registry.register(
            "tidemark_backup_expected_interval_seconds",
            "Longest gap between consecutive fires of the backup schedule",
            expected_interval.clone(),
        );
        let backup_size = Family::<PolicyLabels, Gauge>::default();
        registry.register(
            "tidemark_backup_size_bytes",
            "Stored size of the newest successful backup",
            backup_size.clone(),
        );
        let run_duration: HistogramFamily<KindLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "tidemark_run_duration_seconds",
            "Wall time of finished runner Jobs by kind",
            run_duration.clone(),
        );
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "tidemark_runs",
            "Finished runner Jobs by kind, outcome and reason",
            runs.clone(),
        );
        let verification_passed = Family::<PolicyLabels, Gauge>::default();
        registry.register(
            "tidemark_verification_passed",
            "1 when the last verification passed, else 0",
            verification_passed.clone(),
        );
        let restore_test_passed = Family::<PolicyLabels, Gauge>::default();
        registry.register(
            "tidemark_restore_test_passed",
            "1 when the last restore test passed, else 0",
            restore_test_passed.clone(),
        );
        let restore_test_duration = Family::<PolicyLabels, FloatGauge>::default();
        registry.register(
            "tidemark_restore_test_duration_seconds",
            "Measured restore time of the last restore test (the achieved RTO)",
            restore_test_duration.clone(),
        );
        let restores = Family::<RestoreLabels, Counter>::default();
        registry.register(
            "tidemark_restores",
            "Finished RestoreRequests by outcome",
            restores.clone(),
        );
        let restore_duration: HistogramFamily<NamespaceLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "tidemark_restore_duration_seconds",
            "Measured duration of RestoreRequests",
            restore_duration.clone(),
        );
        let reconciles = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "tidemark_reconciles",
            "Reconciliations by controller",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<ControllerErrorLabels, Counter>::default();
        registry.register(
            "tidemark_reconcile_errors",
            "Failed reconciliations by controller and reason",
            reconcile_errors.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "tidemark_leader",
            "1 when this replica holds the leader Lease (or runs without leader election)",
            leader.clone(),
        );
        Self {
            registry,
            last_success,
            expected_interval,
            backup_size,
            run_duration,
            runs,
            verification_passed,
            restore_test_passed,
            restore_test_duration,
            restores,
            restore_duration,
            reconciles,
            reconcile_errors,
            leader,
            run_series: Mutex::new(HashMap::new()),
        }
    }

    /// The registry in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The newest successful backup of a policy completed at `at`.
    pub fn set_last_success(&self, namespace: &str, name: &str, at: DateTime<Utc>) {
        let seconds = at.timestamp() as f64 + f64::from(at.timestamp_subsec_millis()) / 1000.0;
        self.last_success
            .get_or_create(&policy(namespace, name))
            .set(seconds);
    }

    /// The backup schedule's [`expected_interval`] in seconds.
    pub fn set_expected_interval(&self, namespace: &str, name: &str, seconds: f64) {
        self.expected_interval
            .get_or_create(&policy(namespace, name))
            .set(seconds);
    }

    /// Stored size of the newest successful backup.
    pub fn set_backup_size(&self, namespace: &str, name: &str, bytes: u64) {
        self.backup_size
            .get_or_create(&policy(namespace, name))
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// A runner Job of a policy finished. `reason` is the runner's (or Kubernetes')
    /// machine-readable reason, e.g. `Completed`, `PgDumpFailed`, `DeadlineExceeded`.
    pub fn observe_run(
        &self,
        namespace: &str,
        name: &str,
        kind: RunKind,
        outcome: Outcome,
        reason: &str,
        duration_seconds: Option<f64>,
    ) {
        let labels = RunLabels {
            namespace: namespace.to_string(),
            policy: name.to_string(),
            kind: kind.label().to_string(),
            outcome,
            reason: reason.to_string(),
        };
        self.runs.get_or_create(&labels).inc();
        if let Ok(mut series) = self.run_series.lock() {
            series
                .entry(policy(namespace, name))
                .or_default()
                .insert(labels);
        }
        if let Some(seconds) = duration_seconds {
            self.run_duration
                .get_or_create(&KindLabels {
                    namespace: namespace.to_string(),
                    policy: name.to_string(),
                    kind: kind.label().to_string(),
                })
                .observe(seconds);
        }
    }

    /// Result of the last verification.
    pub fn set_verification(&self, namespace: &str, name: &str, passed: bool) {
        self.verification_passed
            .get_or_create(&policy(namespace, name))
            .set(i64::from(passed));
    }

    /// Result of the last restore test and its measured restore time.
    pub fn set_restore_test(
        &self,
        namespace: &str,
        name: &str,
        passed: bool,
        restore_seconds: Option<f64>,
    ) {
        let labels = policy(namespace, name);
        self.restore_test_passed
            .get_or_create(&labels)
            .set(i64::from(passed));
        if let Some(seconds) = restore_seconds {
            self.restore_test_duration
                .get_or_create(&labels)
                .set(seconds);
        }
    }

    /// A RestoreRequest finished.
    pub fn observe_restore(
        &self,
        namespace: &str,
        outcome: Outcome,
        duration_seconds: Option<f64>,
    ) {
        self.restores
            .get_or_create(&RestoreLabels {
                namespace: namespace.to_string(),
                outcome,
            })
            .inc();
        if let Some(seconds) = duration_seconds {
            self.restore_duration
                .get_or_create(&NamespaceLabels {
                    namespace: namespace.to_string(),
                })
                .observe(seconds);
        }
    }

    /// One reconciliation of `controller` (`backuppolicy`, `restorerequest`); `error`
    /// is a short reason when it failed.
    pub fn observe_reconcile(&self, controller: &str, error: Option<&str>) {
        self.reconciles
            .get_or_create(&ControllerLabels {
                controller: controller.to_string(),
            })
            .inc();
        if let Some(reason) = error {
            self.reconcile_errors
                .get_or_create(&ControllerErrorLabels {
                    controller: controller.to_string(),
                    reason: reason.to_string(),
                })
                .inc();
        }
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Removes every series of a deleted policy.
    pub fn forget_policy(&self, namespace: &str, name: &str) {
        let labels = policy(namespace, name);
        for family in [
            &self.last_success,
            &self.expected_interval,
            &self.restore_test_duration,
        ] {
            family.remove(&labels);
        }
        for family in [
            &self.backup_size,
            &self.verification_passed,
            &self.restore_test_passed,
        ] {
            family.remove(&labels);
        }
        for kind in RunKind::ALL {
            self.run_duration.remove(&KindLabels {
                namespace: namespace.to_string(),
                policy: name.to_string(),
                kind: kind.label().to_string(),
            });
        }
        let runs = self
            .run_series
            .lock()
            .ok()
            .and_then(|mut series| series.remove(&labels));
        for run in runs.into_iter().flatten() {
            self.runs.remove(&run);
        }
    }
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

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn the_registry_renders_every_metric_with_its_labels() {
        let m = Metrics::new();
        m.set_last_success("shop", "webshop", t("2026-11-23T11:00:05Z"));
        m.set_expected_interval("shop", "webshop", 3600.0);
        m.set_backup_size("shop", "webshop", 12_345_678);
        m.observe_run(
            "shop",
            "webshop",
            RunKind::Backup,
            Outcome::Succeeded,
            "Completed",
            Some(42.0),
        );
        m.observe_run(
            "shop",
            "webshop",
            RunKind::Backup,
            Outcome::Failed,
            "PgDumpFailed",
            Some(3.0),
        );
        m.set_verification("shop", "webshop", true);
        m.set_restore_test("shop", "webshop", false, Some(81.5));
        m.observe_restore("shop", Outcome::Succeeded, Some(120.0));
        m.observe_reconcile("backuppolicy", None);
        m.observe_reconcile("backuppolicy", Some("Conflict"));
        m.set_leader(true);
        let text = m.render().unwrap();
        let expect = [
            r#"tidemark_backup_last_success_timestamp_seconds{namespace="shop",policy="webshop"} 1795431605.0"#,
            r#"tidemark_backup_expected_interval_seconds{namespace="shop",policy="webshop"} 3600.0"#,
            r#"tidemark_backup_size_bytes{namespace="shop",policy="webshop"} 12345678"#,
            r#"tidemark_runs_total{namespace="shop",policy="webshop",kind="backup",outcome="succeeded",reason="Completed"} 1"#,
            r#"tidemark_runs_total{namespace="shop",policy="webshop",kind="backup",outcome="failed",reason="PgDumpFailed"} 1"#,
            r#"tidemark_run_duration_seconds_count{namespace="shop",policy="webshop",kind="backup"} 2"#,
            r#"tidemark_run_duration_seconds_sum{namespace="shop",policy="webshop",kind="backup"} 45.0"#,
            r#"tidemark_verification_passed{namespace="shop",policy="webshop"} 1"#,
            r#"tidemark_restore_test_passed{namespace="shop",policy="webshop"} 0"#,
            r#"tidemark_restore_test_duration_seconds{namespace="shop",policy="webshop"} 81.5"#,
            r#"tidemark_restores_total{namespace="shop",outcome="succeeded"} 1"#,
            r#"tidemark_restore_duration_seconds_count{namespace="shop"} 1"#,
            r#"tidemark_reconciles_total{controller="backuppolicy"} 2"#,
            r#"tidemark_reconcile_errors_total{controller="backuppolicy",reason="Conflict"} 1"#,
            "tidemark_leader 1",
        ];
        for e in expect {
            assert!(text.lines().any(|l| l == e), "missing {e} in\n{text}");
        }
        assert!(text.contains("# TYPE tidemark_run_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_deleted_policy_leaves_no_series() {
        let m = Metrics::new();
        for name in ["webshop", "other"] {
            m.set_last_success("shop", name, t("2026-11-23T11:00:00Z"));
            m.set_expected_interval("shop", name, 3600.0);
            m.set_backup_size("shop", name, 1);
            m.set_verification("shop", name, true);
            m.set_restore_test("shop", name, true, Some(1.0));
            for kind in [RunKind::Backup, RunKind::Prune, RunKind::Verify] {
                for (outcome, reason) in [
                    (Outcome::Succeeded, "Completed"),
                    (Outcome::Failed, "Timeout"),
                ] {
                    m.observe_run("shop", name, kind, outcome, reason, Some(1.0));
                }
            }
        }
        m.forget_policy("shop", "webshop");
        let text = m.render().unwrap();
        assert!(!text.contains(r#"policy="webshop""#), "{text}");
        assert!(
            line(
                &text,
                r#"tidemark_backup_size_bytes{namespace="shop",policy="other"}"#
            )
            .is_some()
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("tidemark_runs_total{") && l.contains(r#"policy="other""#))
                .count(),
            6
        );
    }
}
