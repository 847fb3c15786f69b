//! The watch caches of the operator's Jobs and their pods, per watched
//! scope, kept lean (what [`crate::runtime::observed`] reads, nothing more) and indexed by
//! policy. A reconcile reads them instead of listing; the same watch streams trigger
//! the reconciles, each after the cache has taken the change in.

use std::time::Duration;

use futures::{Stream, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde::de::DeserializeOwned;
use tidemark_crd::BackupPolicy;

use super::owned_index::OwnedIndex;
use crate::runtime::job::builder::labels;

/// How long a reconcile waits for a cache's first list before asking the API itself.
pub const READY_WAIT: Duration = Duration::from_secs(10);

/// The caches of one watched scope (all namespaces, or one).
#[derive(Clone)]
pub struct ScopeCache {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    pub jobs: OwnedIndex<Job>,
    pub pods: OwnedIndex<Pod>,
}

impl ScopeCache {
    pub fn new(namespace: Option<String>) -> Self {
        Self {
            namespace,
            jobs: OwnedIndex::new(),
            pods: OwnedIndex::new(),
        }
    }

    /// Waits (up to [`READY_WAIT`]) until both caches hold a complete list.
    pub async fn ready(&self) -> bool {
        self.jobs.wait_ready(READY_WAIT).await && self.pods.wait_ready(READY_WAIT).await
    }
}

/// The caches of every watched scope.
#[derive(Clone, Default)]
pub struct JobCache {
    pub scopes: Vec<ScopeCache>,
}

impl JobCache {
    /// The scope that sees `namespace`.
    pub fn scope_for(&self, namespace: &str) -> Option<&ScopeCache> {
        self.scopes
            .iter()
            .find(|s| s.namespace.as_deref().is_none_or(|n| n == namespace))
    }
}

/// Drops what the controller never reads from a cached Job: the pod template (the
/// bulk of a Job) and managed fields. Labels, annotations, owners and status stay.
pub fn strip_job(job: &mut Job) {
    job.metadata.managed_fields = None;
    job.spec = None;
}

/// Keeps of a cached pod only its identity, owners, labels and container states.
pub fn strip_pod(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    pod.metadata.annotations = None;
    pod.spec = None;
    pod.status = pod.status.take().map(|s| PodStatus {
        container_statuses: s.container_statuses,
        ..PodStatus::default()
    });
}

/// The policy a pod's Job belongs to, as a reconcile trigger.
pub fn policy_of_pod(pod: &Pod) -> Option<ObjectRef<BackupPolicy>> {
    let policy = pod.labels().get(labels::POLICY)?;
    Some(ObjectRef::new(policy).within(&pod.namespace()?))
}

/// The objects of `api`'s scope matching `selector`, passed through `strip` and fed into
/// `index` before each is passed on (so a reconcile it triggers reads the cache with the
/// change in). Used for the managed Jobs ([`strip_job`]) and their pods ([`strip_pod`]).
pub fn cached_stream<K>(
    api: Api<K>,
    selector: &str,
    strip: fn(&mut K),
    index: OwnedIndex<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: kube::Resource + ResourceExt + Clone + std::fmt::Debug + DeserializeOwned,
    K: Send + Sync + 'static,
{
    watcher(api, watcher::Config::default().labels(selector))
        .modify(strip)
        .inspect_ok(move |event| index.apply(event))
        .touched_objects()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stripped_pod_keeps_what_observing_needs() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "web-backup-1-abcde", "namespace": "shop",
                "labels": {"tidemark.dev/policy": "web"},
                "annotations": {"big": "x"},
                "managedFields": [{"manager": "kubelet"}],
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "web-backup-1",
                                     "uid": "u", "controller": true}]
            },
            "spec": {"containers": [{"name": "runner", "image": "i"}]},
            "status": {
                "phase": "Failed",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "runner", "image": "i", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 1, "message": "{}"}}}]
            }
        }))
        .unwrap();
        strip_pod(&mut pod);
        assert!(pod.spec.is_none());
        assert!(pod.metadata.managed_fields.is_none() && pod.metadata.annotations.is_none());
        let status = pod.status.as_ref().unwrap();
        assert!(status.phase.is_none() && status.conditions.is_none());
        let cs = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            cs.state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .exit_code,
            1
        );
        assert_eq!(pod.owner_references()[0].name, "web-backup-1");
        assert_eq!(
            policy_of_pod(&pod),
            Some(ObjectRef::new("web").within("shop"))
        );
    }

    #[test]
    fn a_stripped_job_keeps_labels_annotations_owners_and_status() {
        let mut job: Job = serde_json::from_value(json!({
            "metadata": {"name": "web-backup-1", "namespace": "shop",
                         "labels": {"tidemark.dev/policy": "web"},
                         "annotations": {"tidemark.dev/scheduled-time": "2026-11-23T10:00:00Z"},
                         "managedFields": [{"manager": "tidemark-operator"}],
                         "ownerReferences": [{"apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
                                              "name": "web", "uid": "u", "controller": true}]},
            "spec": {"template": {"spec": {"containers": [{"name": "runner"}]}}},
            "status": {"active": 1}
        }))
        .unwrap();
        strip_job(&mut job);
        assert!(job.spec.is_none() && job.metadata.managed_fields.is_none());
        assert_eq!(job.labels()[labels::POLICY], "web");
        assert_eq!(job.annotations().len(), 1);
        assert_eq!(job.owner_references()[0].uid, "u");
        assert_eq!(job.status.unwrap().active, Some(1));
    }

    #[test]
    fn a_namespaced_scope_sees_only_its_namespace() {
        let cache = JobCache {
            scopes: vec![
                ScopeCache::new(Some("a".into())),
                ScopeCache::new(Some("b".into())),
            ],
        };
        assert_eq!(
            cache.scope_for("b").unwrap().namespace.as_deref(),
            Some("b")
        );
        assert!(cache.scope_for("c").is_none());
        let all = JobCache {
            scopes: vec![ScopeCache::new(None)],
        };
        assert!(all.scope_for("c").is_some());
    }
}
