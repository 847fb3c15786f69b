//! Running the RestoreRequest controller: one watch of RestoreRequests (cluster-wide, or
//! one per `--namespaces` entry) that owns its Jobs.

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::{Controller, watcher};
use tidemark_crd::RestoreRequest;

use super::reconcile::{RestoreState, error_policy, reconcile};
use crate::context::{CONTROLLER_NAME, Context};
use crate::metrics::Metrics;
use crate::runtime::job::builder::labels;
use crate::runtime::{Shutdown, scoped_apis};

/// Runs the RestoreRequest controllers until `shutdown`.
pub async fn run(ctx: Arc<Context>, metrics: Arc<Metrics>, shutdown: Shutdown) {
    let state = RestoreState::new(ctx.clone(), metrics.clone());
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
                .for_each(|res| {
                    let metrics = metrics.clone();
                    async move {
                        match res {
                            Ok((obj, _)) => tracing::debug!(restore_request = %obj, "reconciled"),
                            // A deleted request: its series go too.
                            Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
                                let ns = obj.namespace.as_deref().unwrap_or_default();
                                metrics.forget_request(ns, &obj.name);
                            }
                            Err(e) => tracing::debug!(error = %e, "reconcile error"),
                        }
                    }
                })
        });
    futures::future::join_all(controllers).await;
}
