//! The BackupPolicy reconcile: read (policy, its Jobs, their pods) → decide (pure) →
//! build (pure Job builders) → apply (create Jobs; `AlreadyExists` is fine because names
//! are deterministic) → status (pure computation, then server-side apply) → events.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::Event;
use kube::{Resource, ResourceExt};
use tidemark_crd::BackupPolicy;

use super::conditions::READY;
use super::decide::{Inputs, decide};
use super::effective;
use super::events;
use super::finalizer::{self, FinalizerStep};
use super::io::{Created, create_job, read_jobs, write_status};
use super::jobs::{build, purge_job};
use super::on_demand;
use super::spread;
use super::status::{StatusInputs, StatusOutcome, compute};
use super::validate::{SpecError, validate};
use super::written_status::WrittenStatuses;
use crate::alerts;
use crate::context::Context;
use crate::metrics::{self, Metrics};
use crate::naming::{RunKind, request_job_name};
use crate::runtime::backoff::Backoff;
use crate::runtime::error::Error;
use crate::runtime::event_queue::EventQueue;
use crate::runtime::job_cache::JobCache;
use crate::runtime::kube_io::path_of;
use crate::runtime::observed::JobState;
use crate::time::{to_chrono, to_k8s};

/// Longest time between two reconciles of a valid policy (a safety net for missed
/// watch events; the schedule normally wakes it earlier).
pub const MAX_REQUEUE: Duration = Duration::from_secs(3600);
/// While a policy has running Jobs, it is reconciled at least this often (a safety net:
/// pod changes trigger reconciles anyway).
pub const ACTIVE_POLL: Duration = Duration::from_secs(30);
/// Added to every timed wake-up so that the scheduled instant has passed when it runs
/// (timers do not fire early, but the wall clock may step). Waking a little early costs
/// one cheap reconcile from the caches, which simply sleeps again.
pub const WAKE_SLACK: Duration = Duration::from_millis(10);

/// State shared by the BackupPolicy controllers.
pub struct PolicyState {
    pub ctx: Arc<Context>,
    pub metrics: Arc<Metrics>,
    pub backoff: Backoff,
    /// HTTP client for webhook alerts (`None` if it could not be built: alerts are then
    /// reported as failed, never fatal).
    pub webhooks: Option<reqwest::Client>,
    /// The watch caches of Jobs and pods (`None`: every read lists from the API).
    pub cache: Option<JobCache>,
    /// Statuses this replica wrote, for reconciles that run before the watch has them.
    pub written: WrittenStatuses,
    /// Events go through this queue (`None`: published within the reconcile).
    pub events: Option<EventQueue>,
}

impl PolicyState {
    /// State that reads Jobs and pods from the API on every reconcile.
    pub fn new(ctx: Arc<Context>, metrics: Arc<Metrics>) -> Arc<Self> {
        Self::with_cache(ctx, metrics, None, None)
    }

    /// State that reads Jobs and pods from `cache` (the API while it is not ready) and
    /// publishes Events through `events`.
    pub fn with_cache(
        ctx: Arc<Context>,
        metrics: Arc<Metrics>,
        cache: Option<JobCache>,
        events: Option<EventQueue>,
    ) -> Arc<Self> {
        let webhooks = match alerts::http_client() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "webhook alerts are unavailable");
                None
            }
        };
        Arc::new(Self {
            ctx,
            metrics,
            backoff: Backoff::default(),
            webhooks,
            cache,
            written: WrittenStatuses::default(),
            events,
        })
    }
}

/// Controller name in metrics.
pub const METRICS_NAME: &str = "backuppolicy";

/// The requeue for a wake-up time (pure).
pub fn requeue_for(wake_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Action {
    let delay = wake_at.map_or(MAX_REQUEUE, |w| {
        // An instant already past: right away (plus the slack).
        let until = (w - now).to_std().unwrap_or(Duration::ZERO);
        (until + WAKE_SLACK).min(MAX_REQUEUE)
    });
    Action::requeue(delay)
}

/// Publishes an Event about `policy`: queued when the state has an event queue (the
/// running operator), otherwise right away.
async fn publish(st: &PolicyState, policy: &BackupPolicy, event: Event) {
    let reference = policy.object_ref(&());
    if let Some(queue) = &st.events {
        queue.send(event, reference);
    } else if let Err(e) = st.ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(policy = %path_of(policy), reason = %event.reason, error = %e, "cannot publish event");
    }
}

/// Reconciles one BackupPolicy.
pub async fn reconcile(policy: Arc<BackupPolicy>, st: Arc<PolicyState>) -> Result<Action, Error> {
    let ctx = &st.ctx;
    if policy.namespace().is_none() {
        return Err(Error::Unnamed);
    }
    let key = path_of(policy.as_ref());
    let result = match finalizer::step(&policy) {
        FinalizerStep::Add => finalizer::set(&ctx.client, &policy, true)
            .await
            .map(|()| Action::await_change()),
        FinalizerStep::Remove => finalizer::set(&ctx.client, &policy, false)
            .await
            .map(|()| Action::await_change()),
        FinalizerStep::Gone => Ok(Action::await_change()),
        FinalizerStep::Purge => purge(&policy, &st).await,
        FinalizerStep::None => reconcile_policy(&policy, &st, Utc::now()).await,
    };
    match &result {
        Ok(_) => {
            st.backoff.succeeded(&key);
            st.metrics.observe_reconcile(METRICS_NAME, None);
        }
        Err(e) => st.metrics.observe_reconcile(METRICS_NAME, Some(e.kind())),
    }
    result
}

/// After a failed reconcile: retry with a growing delay (5 s … 5 min).
pub fn error_policy(policy: Arc<BackupPolicy>, error: &Error, st: Arc<PolicyState>) -> Action {
    let key = path_of(policy.as_ref());
    let delay = st.backoff.failed(&key);
    tracing::warn!(policy = %key, error = %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(delay)
}

/// The normal reconcile of a live policy.
pub async fn reconcile_policy(
    policy: &BackupPolicy,
    st: &PolicyState,
    now: DateTime<Utc>,
) -> Result<Action, Error> {
    let ctx = &*st.ctx;
    let name = policy.name_any();
    // The cached policy may not show this replica's last status write yet.
    let current = st.written.current(policy);
    let previous = current.clone().unwrap_or_default();
    let created = policy
        .meta()
        .creation_timestamp
        .as_ref()
        .and_then(to_chrono)
        .unwrap_or(now);
    let jobs = read_jobs(
        &ctx.client,
        st.cache.as_ref(),
        policy,
        &previous.recorded_jobs,
    )
    .await?;

    // Validate (parsing the spec once), then decide.
    // Spread per policy (`spec.scheduleSpreadSeconds`) after validating: every fire time
    // below, in Job names, annotations and status, is the spread one.
    let parsed = validate(&policy.spec).map(|p| spread::apply(p, spread::offset_of(policy)));
    let plan = parsed.as_ref().ok().map(|spec| {
        decide(&Inputs {
            name: &name,
            spec,
            status: &previous,
            created,
            jobs: &jobs,
            now,
            run_now_annotation: policy
                .annotations()
                .get(on_demand::RUN_NOW_ANNOTATION)
                .map(String::as_str),
        })
    });

    // Build and apply.
    let defaults = ctx.config.job_defaults();
    let mut launched = Vec::new();
    if let (Ok(spec), Some(plan)) = (&parsed, &plan) {
        for (kind, scheduled) in &plan.waiting {
            tracing::debug!(policy = %path_of(policy), kind, %scheduled,
                "due; waiting for the running backup and its retention to finish");
        }
        for l in &plan.launch {
            match build(policy, spec, l, &defaults) {
                Ok(job) => {
                    let created = create_job(&ctx.client, &job).await?;
                    if created == Created::New {
                        tracing::info!(policy = %path_of(policy), job = %l.name, kind = l.kind().label(), "job created");
                        publish(st, policy, events::launched(l)).await;
                    }
                    launched.push(l.clone());
                }
                Err(e) => {
                    tracing::warn!(policy = %path_of(policy), job = %l.name, error = %e, "cannot build job");
                    publish(st, policy, events::build_failed(&l.name, &e.to_string())).await;
                }
            }
        }
    }
    let (effective, invalid) = match parsed {
        Ok(spec) => (Some(spec.effective), None),
        // What can still be derived is shown in status (`status.effective`, BackupFresh).
        Err(e) => (effective::of(&policy.spec), Some(e)),
    };

    // Status.
    let outcome = compute(
        &StatusInputs {
            spec: &policy.spec,
            generation: policy.meta().generation,
            previous: &previous,
            created,
            jobs: &jobs,
            plan: plan.as_ref(),
            invalid: invalid.as_ref(),
            effective,
            launched: &launched,
            now,
        },
        to_k8s(now).unwrap_or(Time(Timestamp::UNIX_EPOCH)),
    );
    let changed = outcome.status != previous;
    if changed {
        let stored = write_status(&ctx.client, policy, &outcome.status).await?;
        st.written.remember(policy, stored.status);
    }
    after_status(policy, st, &previous, &outcome, invalid.as_ref()).await;
    record_metrics(policy, &st.metrics, &outcome, now);
    if changed {
        alert(policy, st, current.as_ref(), &outcome.status, now).await;
    }

    Ok(match invalid {
        Some(_) => Action::await_change(),
        // Pod changes trigger a reconcile when the watch caches run; without them (or if
        // an event is missed) a running Job's pod is still looked at now and then, so a
        // pod that cannot start (a missing Secret) shows in `Ready` before the deadline.
        None if !outcome.status.active.is_empty() => {
            let poll = now + chrono::Duration::from_std(ACTIVE_POLL).unwrap_or_default();
            requeue_for(Some(outcome.wake_at.map_or(poll, |w| w.min(poll))), now)
        }
        None => requeue_for(outcome.wake_at, now),
    })
}

/// Events (and, where wired, metrics and alerts) for what the new status recorded.
async fn after_status(
    policy: &BackupPolicy,
    st: &PolicyState,
    previous: &tidemark_crd::backup_policy::BackupPolicyStatus,
    outcome: &StatusOutcome,
    invalid: Option<&SpecError>,
) {
    for r in &outcome.recorded {
        tracing::info!(
            policy = %path_of(policy),
            job = %r.job_name,
            kind = r.kind.label(),
            succeeded = r.succeeded(),
            "run finished"
        );
        publish(st, policy, events::outcome(r)).await;
    }
    if let Some(e) = invalid {
        let ready_before = previous.conditions.iter().find(|c| c.type_ == READY);
        if ready_before.is_none_or(|c| c.status != "False" || c.message != e.message) {
            tracing::warn!(policy = %path_of(policy), error = %e.message, "invalid spec");
            publish(st, policy, events::invalid(e)).await;
        }
    }
    if let Some(s) = &outcome.status.last_skipped
        && previous.last_skipped.as_ref() != Some(s)
    {
        publish(st, policy, events::skipped(s)).await;
    }
}

/// A `Delete` policy is going: run the purge Job, then release the finalizer.
async fn purge(policy: &BackupPolicy, st: &PolicyState) -> Result<Action, Error> {
    let ctx = &*st.ctx;
    let name = request_job_name(&policy.name_any(), RunKind::Purge);
    let jobs = read_jobs(&ctx.client, st.cache.as_ref(), policy, &[]).await?;
    match jobs.iter().find(|j| j.name == name).map(|j| &j.state) {
        None => match purge_job(policy, name.clone(), &ctx.config.job_defaults()) {
            Ok(job) => {
                if create_job(&ctx.client, &job).await? == Created::New {
                    publish(
                        st,
                        policy,
                        Event {
                            type_: kube::runtime::events::EventType::Normal,
                            reason: "PurgeStarted".into(),
                            note: Some(format!(
                                "deletionPolicy Delete: Job {name} deletes every stored backup of this policy"
                            )),
                            action: "Purge".into(),
                            secondary: None,
                        },
                    )
                    .await;
                }
                Ok(Action::await_change())
            }
            Err(e) => {
                publish(st, policy, events::build_failed(&name, &e.to_string())).await;
                Ok(Action::await_change())
            }
        },
        Some(JobState::Active) => Ok(Action::await_change()),
        Some(JobState::Succeeded(_)) => {
            publish(
                st,
                policy,
                Event {
                    type_: kube::runtime::events::EventType::Normal,
                    reason: "PurgeSucceeded".into(),
                    note: Some(format!("Job {name} deleted the stored backups")),
                    action: "Purge".into(),
                    secondary: None,
                },
            )
            .await;
            finalizer::set(&ctx.client, policy, false).await?;
            Ok(Action::await_change())
        }
        Some(JobState::Failed {
            reason, message, ..
        }) => {
            // Nothing is released: set deletionPolicy to Retain to let the policy go and
            // keep the objects, or delete the failed Job to try again.
            publish(
                st,
                policy,
                Event {
                    type_: kube::runtime::events::EventType::Warning,
                    reason: "PurgeFailed".into(),
                    note: Some(format!(
                        "Job {name}: {reason}: {message}; the policy stays until a purge succeeds (delete the Job to retry) or deletionPolicy is set to Retain"
                    )),
                    action: "Purge".into(),
                    secondary: None,
                },
            )
            .await;
            Ok(Action::await_change())
        }
    }
}

/// Prometheus series of a policy after a reconcile: the runs it recorded, and every
/// series read from the new status.
fn record_metrics(policy: &BackupPolicy, m: &Metrics, outcome: &StatusOutcome, now: DateTime<Utc>) {
    let ns = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    m.record_policy(policy, &outcome.status, now);
    for r in &outcome.recorded {
        m.observe_run(
            &ns,
            &name,
            r.kind,
            metrics::Outcome::of(r.succeeded()),
            r.duration_seconds(),
        );
    }
}

/// Sends the webhook alert for the status change, if the policy asks for one. A failed
/// delivery is a Warning event, never a failed reconcile.
async fn alert(
    policy: &BackupPolicy,
    st: &PolicyState,
    previous: Option<&tidemark_crd::backup_policy::BackupPolicyStatus>,
    new: &tidemark_crd::backup_policy::BackupPolicyStatus,
    now: DateTime<Utc>,
) {
    let ns = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    let (Some(a), Some(n)) = (
        alerts::alert_for(previous, new, &policy.spec, &ns, &name, now),
        &policy.spec.notifications,
    ) else {
        return;
    };
    let sent = match &st.webhooks {
        None => Err("no HTTP client for webhooks".to_string()),
        Some(http) => {
            match alerts::read_webhook_url(st.ctx.client.clone(), &ns, &n.webhook_url_secret_ref)
                .await
            {
                Ok(url) => alerts::send(http, &url, &a)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match sent {
        Ok(()) => tracing::info!(policy = %path_of(policy), event = ?a.event, "alert sent"),
        Err(e) => {
            tracing::warn!(policy = %path_of(policy), event = ?a.event, error = %e, "alert not delivered");
            publish(
                st,
                policy,
                events::alert_failed(&format!("{:?}", a.event), &e),
            )
            .await;
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

    #[test]
    fn wakes_just_after_the_instant_and_at_least_hourly() {
        let now = t("2026-11-23T10:00:00Z");
        assert_eq!(
            requeue_for(Some(t("2026-11-23T10:00:30Z")), now),
            Action::requeue(Duration::from_secs(30) + WAKE_SLACK)
        );
        assert_eq!(
            requeue_for(Some(t("2026-11-24T10:00:00Z")), now),
            Action::requeue(MAX_REQUEUE)
        );
        assert_eq!(requeue_for(None, now), Action::requeue(MAX_REQUEUE));
        // An instant already past: right away (plus the slack), never a negative delay.
        assert_eq!(
            requeue_for(Some(t("2026-11-23T09:59:59Z")), now),
            Action::requeue(WAKE_SLACK)
        );
    }
}
