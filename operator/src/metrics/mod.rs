//! Prometheus metrics of the operator (OpenMetrics text on `/metrics`, see [`crate::http`]).
//! `docs/monitoring.md` lists every metric and the alerts built on them.
//!
//! Two sorts:
//! - **Read from the status** ([`policy`], [`request`]): per BackupPolicy and per
//!   RestoreRequest, set on every reconcile from what the object's status holds (last
//!   success and failure, consecutive failures, RPO, verification and restore-test
//!   results and times, restore window, `Ready`, suspension). The API server keeps the
//!   status, so the values survive restarts and leader changes; the alert rules use only
//!   these. A standby replica exports none of them (the leader does).
//! - **Counted by this process**: `tidemark_runs_total` (created at zero for every kind
//!   and outcome of each policy), `tidemark_run_duration_seconds`, RestoreRequest totals
//!   and durations, reconciles, `tidemark_leader` and `tidemark_build_info`.
//!
//! [`Metrics::forget_policy`] and [`Metrics::forget_request`] remove every series of a
//! deleted object.

pub mod interval;
pub mod labels;
pub mod policy;
pub mod request;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tidemark_crd::backup_policy::BackupPolicyStatus;
use tidemark_crd::{BackupPolicy, RestoreRequest};

pub use interval::expected_interval;
pub use labels::Outcome;
use labels::{
    BuildLabels, ControllerErrorLabels, ControllerLabels, FailureLabels, KindLabels,
    NamespaceLabels, PolicyLabels, RequestLabels, RestoreLabels, RunLabels,
};
use policy::{PolicyGauge, policy_series};
use request::{RequestGauge, request_series};

use crate::naming::RunKind;

/// Content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The run kinds of a policy whose `tidemark_runs_total` series start at zero.
pub const POLICY_RUN_KINDS: [RunKind; 4] = [
    RunKind::Backup,
    RunKind::Prune,
    RunKind::Verify,
    RunKind::RestoreTest,
];

/// The metrics counted by this process, as their series are named (counters with
/// `_total`); with [`PolicyGauge::ALL`] and [`RequestGauge::ALL`], see [`metric_names`].
pub const PROCESS_METRICS: [&str; 9] = [
    "tidemark_last_failure_timestamp_seconds",
    "tidemark_run_duration_seconds",
    "tidemark_runs_total",
    "tidemark_restores_total",
    "tidemark_restore_duration_seconds",
    "tidemark_reconciles_total",
    "tidemark_reconcile_errors_total",
    "tidemark_leader",
    "tidemark_build_info",
];

/// Every metric the operator exports, as Prometheus names it (a histogram by its base
/// name, without `_bucket`/`_sum`/`_count`). Dashboards and rules may use only these.
pub fn metric_names() -> Vec<&'static str> {
    PolicyGauge::ALL
        .iter()
        .map(|g| g.name())
        .chain(RequestGauge::ALL.iter().map(|g| g.name()))
        .chain(PROCESS_METRICS)
        .collect()
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
    /// Indexed by [`PolicyGauge::index`].
    policy_gauges: Vec<Family<PolicyLabels, FloatGauge>>,
    last_failure: Family<FailureLabels, FloatGauge>,
    /// The current `last_failure` label set of each policy (its kind and reason vary).
    failure_series: Mutex<HashMap<PolicyLabels, FailureLabels>>,
    /// Indexed by [`RequestGauge::index`].
    request_gauges: Vec<Family<RequestLabels, FloatGauge>>,
    run_duration: HistogramFamily<KindLabels>,
    runs: Family<RunLabels, Counter>,
    restores: Family<RestoreLabels, Counter>,
    restore_duration: HistogramFamily<NamespaceLabels>,
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ControllerErrorLabels, Counter>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn run_labels(namespace: &str, name: &str, kind: RunKind, outcome: Outcome) -> RunLabels {
    RunLabels {
        namespace: namespace.to_string(),
        policy: name.to_string(),
        kind: kind.label().to_string(),
        outcome,
    }
}

fn kind_labels(namespace: &str, name: &str, kind: RunKind) -> KindLabels {
    KindLabels {
        namespace: namespace.to_string(),
        policy: name.to_string(),
        kind: kind.label().to_string(),
    }
}

impl Metrics {
    /// A registry with every metric registered, and `tidemark_build_info` set.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let policy_gauges: Vec<Family<PolicyLabels, FloatGauge>> = PolicyGauge::ALL
            .iter()
            .map(|g| {
                let family = Family::default();
                registry.register(g.name(), g.help(), family.clone());
                family
            })
            .collect();
        let last_failure = Family::<FailureLabels, FloatGauge>::default();
        registry.register(
            "tidemark_last_failure_timestamp_seconds",
            "Time of the most recent failed run of any kind (status.lastFailure), with its kind and reason",
            last_failure.clone(),
        );
        let request_gauges: Vec<Family<RequestLabels, FloatGauge>> = RequestGauge::ALL
            .iter()
            .map(|g| {
                let family = Family::default();
                registry.register(g.name(), g.help(), family.clone());
                family
            })
            .collect();
        let run_duration: HistogramFamily<KindLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "tidemark_run_duration_seconds",
            "Wall time of finished runner Jobs by kind (since this process started)",
            run_duration.clone(),
        );
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "tidemark_runs",
            "Finished runner Jobs by kind and outcome (since this process started; every series starts at 0)",
            runs.clone(),
        );
        let restores = Family::<RestoreLabels, Counter>::default();
        registry.register(
            "tidemark_restores",
            "Finished RestoreRequests by outcome (since this process started)",
            restores.clone(),
        );
        let restore_duration: HistogramFamily<NamespaceLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "tidemark_restore_duration_seconds",
            "Measured duration of RestoreRequests (since this process started)",
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
        let build_info = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "tidemark_build_info",
            "Always 1; the operator's version as a label",
            build_info.clone(),
        );
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        Self {
            registry,
            policy_gauges,
            last_failure,
            failure_series: Mutex::new(HashMap::new()),
            request_gauges,
            run_duration,
            runs,
            restores,
            restore_duration,
            reconciles,
            reconcile_errors,
            leader,
        }
    }

    /// The registry in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Sets every status-derived series of `policy` from its newest `status` (gauges
    /// without a value lose their series), and creates its run counters at zero.
    pub fn record_policy(
        &self,
        policy: &BackupPolicy,
        status: &BackupPolicyStatus,
        now: DateTime<Utc>,
    ) {
        let ns = policy.namespace().unwrap_or_default();
        let name = policy.name_any();
        let labels = PolicyLabels::new(&ns, &name);
        let series = policy_series(policy, status, now);
        for gauge in PolicyGauge::ALL {
            let Some(family) = self.policy_gauges.get(gauge.index()) else {
                continue;
            };
            match series.get(gauge) {
                Some(v) => {
                    family.get_or_create(&labels).set(v);
                }
                None => {
                    family.remove(&labels);
                }
            }
        }
        let failure = series.last_failure.map(|f| {
            (
                FailureLabels {
                    namespace: ns.clone(),
                    policy: name.clone(),
                    kind: f.kind,
                    reason: f.reason,
                },
                f.at,
            )
        });
        if let Ok(mut current) = self.failure_series.lock() {
            let previous = match &failure {
                Some((l, _)) => current.insert(labels.clone(), l.clone()),
                None => current.remove(&labels),
            };
            if let Some(p) = previous.filter(|p| failure.as_ref().is_none_or(|(l, _)| l != p)) {
                self.last_failure.remove(&p);
            }
        }
        if let Some((l, at)) = failure {
            self.last_failure.get_or_create(&l).set(at);
        }
        for kind in POLICY_RUN_KINDS {
            for outcome in Outcome::ALL {
                let _ = self
                    .runs
                    .get_or_create(&run_labels(&ns, &name, kind, outcome));
            }
        }
    }

    /// Sets the series of a RestoreRequest from its status.
    pub fn record_request(&self, request: &RestoreRequest) {
        let labels = RequestLabels {
            namespace: request.namespace().unwrap_or_default(),
            request: request.name_any(),
        };
        let series = request_series(request.status.as_ref());
        for gauge in RequestGauge::ALL {
            let Some(family) = self.request_gauges.get(gauge.index()) else {
                continue;
            };
            match series.iter().find(|(g, _)| *g == gauge) {
                Some((_, v)) => {
                    family.get_or_create(&labels).set(*v);
                }
                None => {
                    family.remove(&labels);
                }
            }
        }
    }

    /// A runner Job of a policy finished.
    pub fn observe_run(
        &self,
        namespace: &str,
        name: &str,
        kind: RunKind,
        outcome: Outcome,
        duration_seconds: Option<f64>,
    ) {
        self.runs
            .get_or_create(&run_labels(namespace, name, kind, outcome))
            .inc();
        if let Some(seconds) = duration_seconds {
            self.run_duration
                .get_or_create(&kind_labels(namespace, name, kind))
                .observe(seconds);
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

    /// Whether this replica leads. A replica that stops leading drops every policy and
    /// request series: the new leader exports them, and stale copies here would keep
    /// alerts firing after the problem is gone.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
        if !leader {
            self.forget_all_objects();
        }
    }

    /// Removes every series of a deleted policy.
    pub fn forget_policy(&self, namespace: &str, name: &str) {
        let labels = PolicyLabels::new(namespace, name);
        for family in &self.policy_gauges {
            family.remove(&labels);
        }
        if let Some(l) = self
            .failure_series
            .lock()
            .ok()
            .and_then(|mut current| current.remove(&labels))
        {
            self.last_failure.remove(&l);
        }
        for kind in RunKind::ALL {
            self.run_duration
                .remove(&kind_labels(namespace, name, kind));
            for outcome in Outcome::ALL {
                self.runs
                    .remove(&run_labels(namespace, name, kind, outcome));
            }
        }
    }

    /// Removes the series of a deleted RestoreRequest.
    pub fn forget_request(&self, namespace: &str, name: &str) {
        let labels = RequestLabels {
            namespace: namespace.to_string(),
            request: name.to_string(),
        };
        for family in &self.request_gauges {
            family.remove(&labels);
        }
    }

    /// Removes every per-policy and per-request series (this replica no longer leads).
    pub fn forget_all_objects(&self) {
        for family in &self.policy_gauges {
            family.clear();
        }
        for family in &self.request_gauges {
            family.clear();
        }
        self.last_failure.clear();
        if let Ok(mut current) = self.failure_series.lock() {
            current.clear();
        }
        self.runs.clear();
        self.run_duration.clear();
    }
}

/// Drops every per-object series of its [`Metrics`] when dropped: held by the running
/// controllers, so that once they stop (shutdown, or this replica lost the Lease and its
/// controllers were dropped) no reconcile that was still under way leaves a series behind.
pub struct ForgetObjectsOnDrop(pub std::sync::Arc<Metrics>);

impl Drop for ForgetObjectsOnDrop {
    fn drop(&mut self) {
        self.0.forget_all_objects();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
