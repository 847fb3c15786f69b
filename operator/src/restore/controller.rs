//! Running the RestoreRequest controller: one watch of RestoreRequests (cluster-wide, or
//! one per `--namespaces` entry) that owns its Jobs.

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::{Controller, watcher};
use tidemark_crd::RestoreRequest;

use super::reconcile::{RestoreState, error_policy, reconcile};
use crate::context::{CONTROLLER_NAME, Context};
use crate::controller::{Shutdown, scoped_apis};
use crate::jobs::builder::labels;
use crate::metrics::Metrics;

/// Runs the RestoreRequest controllers until `shutdown`.
pub async fn run(ctx: Arc<Context>, metrics: Arc<Metrics>, shutdown: Shutdown) {
    let state = RestoreState::new(ctx.clone(), metrics);
    let jobs_of_requests = format!(
        "{},{}={CONTROLLER_NAME}",
        labels::RESTORE_REQUEST,
        labels::MANAGED_BY
    );
    let controllers = scoped_apis::<RestoreRequest>(&ctx)
        .into_iter()
        .map(|(requests, jobs)| {
            Controller::new(requests, watcher::Config::default())
                .owns(jobs, watcher::Config::default().labels(&jobs_of_requests))
                .graceful_shutdown_on(shutdown.clone())
                .run(reconcile, error_policy, state.clone())
                .for_each(|res| async move {
                    match res {
                        Ok((obj, _)) => tracing::debug!(restore_request = %obj, "reconciled"),
                        Err(e) => tracing::debug!(error = %e, "reconcile error"),
                    }
                })
        });
    futures::future::join_all(controllers).await;
}
