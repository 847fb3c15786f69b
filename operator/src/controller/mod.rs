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
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource};
use tidemark_crd::BackupPolicy;

use crate::context::{CONTROLLER_NAME, Context, WatchScope};
use crate::http::Readiness;
use crate::jobs::builder::labels;
use crate::metrics::Metrics;

/// BackupPolicy reconciles running at once (per watched scope). Unbounded, every policy
/// due at the same tick reconciles at once: one API connection each over HTTP/1.1 (peak
/// RSS 126 MiB at 1,000 policies against 40 MiB with 32, bench/operator.sh) and a burst
/// an API server's priority and fairness answers with 429s.
pub const RECONCILE_CONCURRENCY: u16 = 32;

/// A shutdown signal that several controllers can wait on.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Makes a shareable shutdown signal.
pub fn shutdown_from(f: impl Future<Output = ()> + Send + 'static) -> Shutdown {
    f.boxed().shared()
}

/// `(owners, jobs)` APIs for each watched scope: one cluster-wide pair, or one pair per
/// `--namespaces` entry.
pub(crate) fn scoped_apis<K>(ctx: &Context) -> Vec<(Api<K>, Api<Job>)>
where
    K: Resource<Scope = NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
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

/// Runs the BackupPolicy controllers until `shutdown`; `readiness` turns synced once
/// every policy watch has its initial list.
pub async fn run_backup_policies(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: Shutdown,
) {
    let state = backup_policy::PolicyState::new(ctx.clone(), metrics.clone());
    let managed = format!("{}={CONTROLLER_NAME}", labels::MANAGED_BY);
    let mut stores = Vec::new();
    let controllers: Vec<_> = scoped_apis::<BackupPolicy>(&ctx)
        .into_iter()
        .map(|(policies, jobs)| {
            let controller = Controller::new(policies, watcher::Config::default())
                .owns(jobs, watcher::Config::default().labels(&managed))
                .with_config(
                    kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY),
                );
            stores.push(controller.store());
            let metrics = metrics.clone();
            controller
                .graceful_shutdown_on(shutdown.clone())
                .run(
                    backup_policy::reconcile,
                    backup_policy::error_policy,
                    state.clone(),
                )
                .for_each(move |res| {
                    let metrics = metrics.clone();
                    async move {
                        match res {
                            Ok((obj, _)) => tracing::debug!(policy = %obj, "reconciled"),
                            // A deleted policy: its series go too.
                            Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
                                metrics.forget_policy(
                                    obj.namespace.as_deref().unwrap_or_default(),
                                    &obj.name,
                                );
                            }
                            Err(e) => tracing::debug!(error = %e, "reconcile error"),
                        }
                    }
                })
        })
        .collect();
    let synced = readiness.clone();
    let ready = async move {
        for store in stores {
            if store.wait_until_ready().await.is_err() {
                return;
            }
        }
        synced.set_synced(true);
        tracing::info!("BackupPolicy caches synced");
    };
    futures::future::join(futures::future::join_all(controllers), ready).await;
    readiness.set_synced(false);
}
