//! Running the BackupPolicy controller: per watched scope, one watch each on policies,
//! their Jobs and those Jobs' pods, feeding the Job caches and triggering reconciles.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use kube::runtime::{Controller, PredicateConfig, WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};
use tidemark_crd::BackupPolicy;

use super::on_demand::RUN_NOW_ANNOTATION;
use super::reconcile::{PolicyState, error_policy, reconcile};
use crate::context::{CONTROLLER_NAME, Context};
use crate::http::Readiness;
use crate::metrics::Metrics;
use crate::runtime::job::builder::labels;
use crate::runtime::job_cache;
use crate::runtime::{EVENT_DRAIN, Shutdown, api_in, event_queue, watch_scopes};

/// BackupPolicy reconciles running at once (per watched scope). Unbounded, every policy
/// due at the same tick reconciles at once: one API connection each over HTTP/1.1 (peak
/// RSS 126 MiB at 1,000 policies against 40 MiB with 32, bench/operator.sh) and a burst
/// an API server's priority and fairness answers with 429s.
pub const RECONCILE_CONCURRENCY: u16 = 32;

/// What makes a policy worth a reconcile when it changes: its spec (generation), its
/// deletion, its finalizers and its run-now annotation. Status-only changes (this operator's own status writes,
/// one per run at least) do not trigger one: the reconcile that wrote the status has
/// already scheduled the next look.
pub fn policy_trigger(policy: &BackupPolicy) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = policy.meta();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut h);
    meta.deletion_timestamp.is_some().hash(&mut h);
    meta.finalizers.hash(&mut h);
    policy.annotations().get(RUN_NOW_ANNOTATION).hash(&mut h);
    Some(h.finish())
}

/// Drops what no reconcile reads from a cached policy: its managed fields (every
/// server-side apply and update adds an entry listing the fields it owns: the status
/// conditions, inventory and times make the operator's own entry about as large as the
/// status). With 10,000 policies the store is the operator's largest structure.
pub fn strip_policy(policy: &mut BackupPolicy) {
    policy.metadata.managed_fields = None;
    if let Some(a) = policy.metadata.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Runs the BackupPolicy controllers until `shutdown`; `readiness` turns synced once
/// every policy watch has its initial list.
///
/// Per scope, one watch each on policies, their Jobs and those Jobs' pods (label
/// `app.kubernetes.io/managed-by=tidemark-operator`). Jobs and pods feed the
/// [`job_cache::JobCache`] that reconciles read instead of listing, and trigger
/// the owning policy's reconcile; pod changes bring a stuck or finished runner to the
/// status without waiting for the Job's next change.
pub async fn run(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: Shutdown,
) {
    let managed = format!("{}={CONTROLLER_NAME}", labels::MANAGED_BY);
    let scopes: Vec<job_cache::ScopeCache> = watch_scopes(&ctx)
        .into_iter()
        .map(job_cache::ScopeCache::new)
        .collect();
    let cache = job_cache::JobCache {
        scopes: scopes.clone(),
    };
    let events = event_queue::EventQueue::start(ctx.recorder.clone(), event_queue::CAPACITY);
    let state = PolicyState::with_cache(ctx.clone(), metrics.clone(), Some(cache), Some(events));
    let mut stores = Vec::new();
    let controllers: Vec<_> = scopes
        .into_iter()
        .map(|scope| {
            let ns = scope.namespace.as_deref();
            let (reader, writer) = reflector::store::<BackupPolicy>();
            let policies = watcher(
                api_in::<BackupPolicy>(&ctx.client, ns),
                watcher::Config::default(),
            )
            .modify(strip_policy)
            .reflect(writer)
            .applied_objects()
            .inspect_ok({
                let state = state.clone();
                move |policy| state.written.settle(policy)
            })
            .predicate_filter(policy_trigger, PredicateConfig::default());
            let jobs = job_cache::cached_stream(
                api_in(&ctx.client, ns),
                &managed,
                job_cache::strip_job,
                scope.jobs.clone(),
            );
            let pods = job_cache::cached_stream(
                api_in(&ctx.client, ns),
                &managed,
                job_cache::strip_pod,
                scope.pods.clone(),
            );
            stores.push(reader.clone());
            let controller = Controller::for_stream(policies, reader)
                .owns_stream(jobs)
                .watches_stream(pods, |pod| job_cache::policy_of_pod(&pod))
                .with_config(
                    kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY),
                );
            let metrics = metrics.clone();
            let state_for_errors = state.clone();
            controller
                .graceful_shutdown_on(shutdown.clone())
                .run(reconcile, error_policy, state.clone())
                .for_each(move |res| {
                    let metrics = metrics.clone();
                    let state = state_for_errors.clone();
                    async move {
                        match res {
                            Ok((obj, _)) => tracing::debug!(policy = %obj, "reconciled"),
                            // A deleted policy: its series go too.
                            Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
                                let ns = obj.namespace.as_deref().unwrap_or_default();
                                metrics.forget_policy(ns, &obj.name);
                                state.written.forget(ns, &obj.name);
                            }
                            Err(e) => tracing::debug!(error = %e, "reconcile error"),
                        }
                    }
                })
        })
        .collect();
    let synced = readiness.clone();
    let caches = state.cache.clone().unwrap_or_default();
    let ready = async move {
        for store in stores {
            if store.wait_until_ready().await.is_err() {
                return;
            }
        }
        for scope in &caches.scopes {
            // Not ready yet: reconciles ask the API meanwhile, so this only delays /readyz.
            while !scope.ready().await {}
        }
        synced.set_synced(true);
        tracing::info!("BackupPolicy caches synced");
    };
    futures::future::join(futures::future::join_all(controllers), ready).await;
    readiness.set_synced(false);
    if let Some(events) = &state.events {
        events.drain(EVENT_DRAIN).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::testing::minimal_policy as policy;

    #[test]
    fn a_cached_policy_keeps_spec_status_and_identity_but_no_managed_fields() {
        let mut p = policy(|v| {
            v["metadata"]["managedFields"] = json!([{"manager": "tidemark-operator", "operation": "Apply", "subresource": "status"}]);
            v["metadata"]["annotations"] = json!({
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "tidemark.dev/run-now": "1"
            });
            v["status"]["consecutiveFailures"] = json!(2);
        });
        let before = p.clone();
        strip_policy(&mut p);
        assert!(p.metadata.managed_fields.is_none());
        assert_eq!(p.annotations().len(), 1);
        assert_eq!(p.annotations()[RUN_NOW_ANNOTATION], "1");
        assert_eq!((&p.spec, &p.status), (&before.spec, &before.status));
        assert_eq!(p.metadata.uid, before.metadata.uid);
        assert_eq!(policy_trigger(&p), policy_trigger(&before));
    }

    #[test]
    fn only_spec_deletion_and_finalizer_changes_trigger_a_reconcile() {
        let base = policy_trigger(&policy(|_| {}));
        let status_only = policy(|v| {
            v["status"]["consecutiveFailures"] = json!(2);
            v["metadata"]["resourceVersion"] = json!("11");
        });
        assert_eq!(policy_trigger(&status_only), base, "an own status write");
        for changed in [
            policy(|v| v["metadata"]["generation"] = json!(4)),
            policy(|v| v["metadata"]["deletionTimestamp"] = json!("2026-11-23T10:00:00Z")),
            policy(|v| v["metadata"]["finalizers"] = json!(["tidemark.dev/purge"])),
        ] {
            assert_ne!(policy_trigger(&changed), base);
        }
    }
}
