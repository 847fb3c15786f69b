//! The controllers and how they are run.
//!
//! Namespaces: with `--namespaces` empty, one cluster-wide watch per kind; with a list,
//! one Controller per listed namespace (namespaced watches), so the operator needs only
//! namespaced RBAC (a Role per namespace) in that mode. All share one `Context`.

pub mod backoff;
pub mod backup_policy;
pub mod error;
pub mod events;
pub mod finalizer;
pub mod policy_io;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt, Shared};
use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::runtime::{Controller, watcher};
use tidemark_crd::BackupPolicy;

use crate::context::{CONTROLLER_NAME, Context, WatchScope};
use crate::jobs::builder::labels;

/// A shutdown signal that several controllers can wait on.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Makes a shareable shutdown signal.
pub fn shutdown_from(f: impl Future<Output = ()> + Send + 'static) -> Shutdown {
    f.boxed().shared()
}

/// `(policies, jobs)` APIs for each watched scope.
fn apis(ctx: &Context) -> Vec<(Api<BackupPolicy>, Api<Job>)> {
    let c = &ctx.client;
    match &ctx.config.namespaces {
        WatchScope::All => vec![(Api::all(c.clone()), Api::all(c.clone()))],
        WatchScope::Namespaces(list) => list
            .iter()
            .map(|ns| {
                (
                    Api::namespaced(c.clone(), ns),
                    Api::namespaced(c.clone(), ns),
                )
            })
            .collect(),
    }
}

/// Runs the BackupPolicy controllers until `shutdown`.
pub async fn run_backup_policies(ctx: Arc<Context>, shutdown: Shutdown) {
    let state = backup_policy::PolicyState::new(ctx.clone());
    let managed = format!("{}={CONTROLLER_NAME}", labels::MANAGED_BY);
    let controllers = apis(&ctx).into_iter().map(|(policies, jobs)| {
        Controller::new(policies, watcher::Config::default())
            .owns(jobs, watcher::Config::default().labels(&managed))
            .graceful_shutdown_on(shutdown.clone())
            .run(
                backup_policy::reconcile,
                backup_policy::error_policy,
                state.clone(),
            )
            .for_each(|res| async move {
                match res {
                    Ok((obj, _)) => tracing::debug!(policy = %obj, "reconciled"),
                    Err(e) => tracing::debug!(error = %e, "reconcile error"),
                }
            })
    });
    futures::future::join_all(controllers).await;
}
