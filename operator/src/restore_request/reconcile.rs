//! The RestoreRequest reconcile: read (the request fresh, its policy, Jobs with pods,
//! writers) → decide (pure) → write the status → act (create/delete Jobs, scale
//! writers) → events and metrics. A finished request is never touched again.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kube::runtime::controller::Action as Requeue;
use kube::{Resource, ResourceExt};
use tidemark_crd::RestoreRequest;
use tidemark_crd::restore_request::RestorePhase;

use super::decide::decide;
use super::events::event;
use super::finalizer::{self, Change};
use super::io;
use super::observed::{Inputs, PolicyView, Workload};
use super::source::BackupSource;
use super::step::{Action, Step};
use crate::context::Context;
use crate::metrics::{Metrics, Outcome};
use crate::naming::RunKind;
use crate::restore_request::jobs::{list_job, post_restore_job, preflight_job, restore_job};
use crate::runtime::backoff::Backoff;
use crate::runtime::error::Error;

/// Controller name in metrics.
pub const CONTROLLER: &str = "restorerequest";

/// State shared by the RestoreRequest controllers.
pub struct RestoreState {
    pub ctx: Arc<Context>,
    pub metrics: Arc<Metrics>,
    pub backoff: Backoff,
}

impl RestoreState {
    pub fn new(ctx: Arc<Context>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            metrics,
            backoff: Backoff::default(),
        })
    }
}

fn key(request: &RestoreRequest) -> String {
    format!(
        "{}/{}",
        request.namespace().unwrap_or_default(),
        request.name_any()
    )
}

/// Reconciles one RestoreRequest.
pub async fn reconcile(
    request: Arc<RestoreRequest>,
    st: Arc<RestoreState>,
) -> Result<Requeue, Error> {
    let key = key(&request);
    let result = reconcile_at(&request, &st.ctx, &st.metrics, Utc::now()).await;
    // The cached object: a status write brings a newer one (and a reconcile) soon.
    st.metrics.record_request(&request);
    st.metrics
        .observe_reconcile(CONTROLLER, result.as_ref().err().map(Error::kind));
    if result.is_ok() {
        st.backoff.succeeded(&key);
    }
    result
}

/// After a failed reconcile: retry with a growing delay (5 s … 5 min).
pub fn error_policy(request: Arc<RestoreRequest>, error: &Error, st: Arc<RestoreState>) -> Requeue {
    let key = key(&request);
    let delay = st.backoff.failed(&key);
    tracing::warn!(restore_request = %key, error = %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Requeue::requeue(delay)
}

/// One reconcile at `now` (the cached object only names the request; everything is
/// read fresh).
pub async fn reconcile_at(
    cached: &RestoreRequest,
    ctx: &Context,
    metrics: &Metrics,
    now: DateTime<Utc>,
) -> Result<Requeue, Error> {
    let ns = cached.namespace().ok_or(Error::Unnamed)?;
    let name = cached.name_any();
    let client = &ctx.client;
    let Some(mut request) = io::read_request(client, &ns, &name).await? else {
        return Ok(Requeue::await_change());
    };
    let status = request.status.clone().unwrap_or_default();
    let deleting = request.metadata.deletion_timestamp.is_some();
    match finalizer::change(&request, status.phase.is_terminal()) {
        Change::Remove => {
            finalizer::remove(client, &request).await?;
            return Ok(Requeue::await_change());
        }
        Change::Add => match finalizer::add(client, &request).await? {
            Some(stored) => request = stored,
            // Deleted meanwhile, before we held it: nothing to do.
            None => return Ok(Requeue::await_change()),
        },
        Change::Keep => {}
    }
    // Finished, or deleted before we ever held it: nothing to do, ever.
    if status.phase.is_terminal() || (deleting && !finalizer::has(&request)) {
        return Ok(Requeue::await_change());
    }

    // Read.
    let policy = match &request.spec.source.policy_ref {
        Some(p) => io::read_policy(client, &ns, &p.name).await?,
        None => None,
    };
    let policy_view = match (&request.spec.source.policy_ref, &policy) {
        (None, _) => PolicyView::NotReferenced,
        (Some(_), None) => PolicyView::Missing,
        (Some(_), Some(p)) => PolicyView::Found(p),
    };
    let jobs = if status.phase == RestorePhase::Pending {
        Vec::new()
    } else {
        io::read_jobs(client, &request).await?
    };
    let mut writers: Vec<Workload> = Vec::new();
    if matches!(
        status.phase,
        RestorePhase::StoppingWriters | RestorePhase::RestartingWriters
    ) {
        for w in &request.spec.stop_writers {
            writers.push(io::read_writer(client, &ns, w.kind, &w.name).await?);
        }
    }

    // Decide.
    let step: Step = decide(&Inputs {
        name: &name,
        namespace: &ns,
        generation: request.metadata.generation,
        spec: &request.spec,
        status: &status,
        policy: policy_view,
        jobs: &jobs,
        writers: &writers,
        deleting,
        now,
    });

    // Remember first, then act.
    if let Some(next) = &step.status {
        request = io::write_status(client, &ns, &name, next).await?;
    }
    let resolved = step
        .status
        .as_ref()
        .unwrap_or(&status)
        .resolved_backup
        .as_ref()
        .map(|b| b.key.clone());
    let defaults = ctx.config.job_defaults();
    for action in &step.actions {
        match action {
            Action::CreateJob { kind, name: job } => {
                let source = BackupSource::of(&request.spec, &ns, policy.as_ref());
                let built = match (kind, source, &resolved) {
                    (RunKind::PostRestore, _, _) => {
                        post_restore_job(&request, job.clone(), &defaults)
                            .map_err(|e| e.to_string())
                    }
                    (RunKind::List, Some(src), _) => {
                        list_job(&request, &src, job.clone(), &defaults).map_err(|e| e.to_string())
                    }
                    (RunKind::Preflight, Some(src), Some(key)) => {
                        preflight_job(&request, &src, key, job.clone(), &defaults)
                            .map_err(|e| e.to_string())
                    }
                    (_, Some(src), Some(key)) => {
                        restore_job(&request, &src, key, job.clone(), &defaults)
                            .map_err(|e| e.to_string())
                    }
                    (_, None, _) => Err("the backup source is not available".to_string()),
                    (_, _, None) => Err("no backup is resolved yet".to_string()),
                };
                let built = built.map_err(|e| Error::BuildJob(format!("{ns}/{job}"), e))?;
                io::create_job(client, &built).await?;
            }
            Action::DeleteJob { name: job } => io::delete_job(client, &ns, job).await?,
            Action::Scale {
                kind,
                name: writer,
                replicas,
            } => io::scale(client, &ns, *kind, writer, *replicas).await?,
        }
    }

    // A finished request no longer holds its deletion.
    if step.status.as_ref().is_some_and(|s| s.phase.is_terminal()) {
        finalizer::remove(client, &request).await?;
    }

    // Tell.
    let reference = request.object_ref(&());
    for note in &step.events {
        let ev = event(note);
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            tracing::warn!(restore_request = %format!("{ns}/{name}"), reason = %ev.reason, error = %e, "cannot publish event");
        }
    }
    if let Some(next) = step.status.as_ref().filter(|s| s.phase.is_terminal()) {
        let outcome = Outcome::of(next.phase == RestorePhase::Succeeded);
        metrics.observe_restore(&ns, outcome, next.duration_seconds);
        tracing::info!(
            restore_request = %format!("{ns}/{name}"),
            phase = ?next.phase,
            reason = next.reason.as_deref().unwrap_or_default(),
            duration_s = next.duration_seconds.unwrap_or_default(),
            "restore finished"
        );
    }
    Ok(match step.requeue_after {
        Some(d) => Requeue::requeue(d),
        None => Requeue::await_change(),
    })
}
