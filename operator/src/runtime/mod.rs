//! What both controllers run on: the watched scopes and shutdown signal, the watch-fed
//! caches of Jobs and pods, the API I/O they share (Jobs, status, finalizers), the
//! observed Jobs as plain data, backoff, the Event queue and leader election.
//!
//! Nothing here knows a controller: no file of `runtime/` imports the BackupPolicy or
//! the RestoreRequest controller's module (checked by `runtime_knows_no_controller`).
//!
//! Namespaces: with `--namespaces` empty, one cluster-wide watch per kind; with a list,
//! one Controller per listed namespace (namespaced watches), so the operator needs only
//! namespaced RBAC (a Role per namespace) in that mode. All share one `Context`.

pub mod backoff;
pub mod error;
pub mod event_queue;
pub mod events;
pub mod finalizer;
pub mod job;
pub mod job_cache;
pub mod kube_io;
pub mod leader;
pub mod observed;
pub mod owned_index;

use std::future::Future;

use futures::future::{BoxFuture, FutureExt, Shared};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::batch::v1::Job;
use kube::{Api, Resource};

use crate::context::{Context, WatchScope};

/// How long a stopping operator keeps publishing queued Events.
pub const EVENT_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A shutdown signal that several controllers can wait on.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Makes a shareable shutdown signal.
pub fn shutdown_from(f: impl Future<Output = ()> + Send + 'static) -> Shutdown {
    f.boxed().shared()
}

/// The `Api` of `K` in a watched scope (`None`: all namespaces).
pub fn api_in<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        None => Api::all(client.clone()),
        Some(ns) => Api::namespaced(client.clone(), ns),
    }
}

/// The watched scopes: `[None]` for all namespaces, else one per `--namespaces` entry.
pub fn watch_scopes(ctx: &Context) -> Vec<Option<String>> {
    match &ctx.config.namespaces {
        WatchScope::All => vec![None],
        WatchScope::Namespaces(list) => list.iter().cloned().map(Some).collect(),
    }
}

/// `(owners, jobs)` APIs for each watched scope: one cluster-wide pair, or one pair per
/// `--namespaces` entry.
pub fn scoped_apis<K>(ctx: &Context) -> Vec<(Api<K>, Api<Job>)>
where
    K: Resource<Scope = NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    watch_scopes(ctx)
        .iter()
        .map(|ns| {
            (
                api_in(&ctx.client, ns.as_deref()),
                api_in(&ctx.client, ns.as_deref()),
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// The shared runtime stays below the controllers: no file of `runtime/` names
    /// either controller's module.
    #[test]
    fn runtime_knows_no_controller() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
        let mut stack = vec![dir];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                files += 1;
                for controller in ["backup_policy", "restore_request"] {
                    let upward = format!("crate::{controller}");
                    let grouped = text
                        .lines()
                        .filter(|l| l.contains("crate::{"))
                        .any(|l| l.contains(controller));
                    assert!(
                        !text.contains(&upward) && !grouped,
                        "{} uses {upward}: the runtime must not depend on a controller",
                        path.display()
                    );
                }
            }
        }
        assert!(files >= 10, "read {files} files of src/runtime");
    }
}
