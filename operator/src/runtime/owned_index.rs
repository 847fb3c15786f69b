//! A watch-fed cache of the operator's Jobs (or their pods), indexed by namespace and
//! `tidemark.dev/policy` label, so a reconcile finds a policy's objects without an API
//! list and without scanning every cached object.
//!
//! It follows a watcher's events the way kube's reflector store does: a (re)list is
//! buffered from `Init` to `InitDone` and then replaces the whole content; `Apply` and
//! `Delete` change one object. Until the first `InitDone` the index is not ready and
//! readers must ask the API instead.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

use crate::runtime::job::builder::labels;

/// `(namespace, policy)`: the index key.
type Group = (String, String);
/// One group's objects by name.
type Members<K> = HashMap<String, Arc<K>>;

/// Objects by `(namespace, tidemark.dev/policy)`, then by name.
#[derive(Debug)]
struct Content<K> {
    groups: HashMap<Group, Members<K>>,
}

impl<K> Default for Content<K> {
    fn default() -> Self {
        Self {
            groups: HashMap::new(),
        }
    }
}

/// The index key of an object: its namespace and policy label (objects without the
/// label are not indexed), and its name.
fn key_of<K: ResourceExt>(obj: &K) -> Option<(Group, String)> {
    let policy = obj.labels().get(labels::POLICY)?;
    Some((
        (obj.namespace().unwrap_or_default(), policy.clone()),
        obj.name_any(),
    ))
}

impl<K: ResourceExt> Content<K> {
    fn insert(&mut self, obj: K) {
        if let Some((group, name)) = key_of(&obj) {
            self.groups
                .entry(group)
                .or_default()
                .insert(name, Arc::new(obj));
        }
    }

    fn remove(&mut self, obj: &K) {
        let Some((group, name)) = key_of(obj) else {
            return;
        };
        if let Some(members) = self.groups.get_mut(&group) {
            members.remove(&name);
            if members.is_empty() {
                self.groups.remove(&group);
            }
        }
    }
}

struct Inner<K> {
    current: Content<K>,
    /// A relist in progress (`Init` seen, `InitDone` not yet).
    relist: Option<Content<K>>,
}

/// A shareable, watch-fed index (cheap to clone: all clones see the same content).
pub struct OwnedIndex<K> {
    inner: Arc<RwLock<Inner<K>>>,
    /// True from the first complete list on.
    ready: Arc<watch::Sender<bool>>,
}

impl<K> Clone for OwnedIndex<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<K: ResourceExt + Clone> Default for OwnedIndex<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: ResourceExt + Clone> OwnedIndex<K> {
    /// An empty index, not ready until its first complete list.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(RwLock::new(Inner {
                current: Content::default(),
                relist: None,
            })),
            ready: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Applies one watcher event.
    pub fn apply(&self, event: &Event<K>) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        match event {
            Event::Init => inner.relist = Some(Content::default()),
            Event::InitApply(obj) => match inner.relist.as_mut() {
                Some(buffer) => buffer.insert(obj.clone()),
                // An InitApply without Init (not emitted by kube's watcher): keep it.
                None => inner.current.insert(obj.clone()),
            },
            Event::InitDone => {
                if let Some(buffer) = inner.relist.take() {
                    inner.current = buffer;
                }
                drop(inner);
                self.ready.send_replace(true);
            }
            Event::Apply(obj) => inner.current.insert(obj.clone()),
            Event::Delete(obj) => inner.current.remove(obj),
        }
    }

    /// Whether the first complete list has been applied.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits up to `timeout` for the first complete list; false if it did not come.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        if self.is_ready() {
            return true;
        }
        let mut rx = self.ready.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|ready| *ready)).await,
            Ok(Ok(_))
        )
    }

    /// The objects of `policy` in `namespace` (cached, possibly a little behind the API).
    pub fn of(&self, namespace: &str, policy: &str) -> Vec<Arc<K>> {
        let Ok(inner) = self.inner.read() else {
            return Vec::new();
        };
        inner
            .current
            .groups
            .get(&(namespace.to_string(), policy.to_string()))
            .map(|members| members.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of cached objects.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .map(|i| i.current.groups.values().map(HashMap::len).sum())
            .unwrap_or(0)
    }

    /// Whether nothing is cached.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::Job;
    use kube::api::ObjectMeta;

    fn job(ns: &str, name: &str, policy: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                labels: policy.map(|p| [(labels::POLICY.to_string(), p.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Job::default()
        }
    }

    fn names(index: &OwnedIndex<Job>, ns: &str, policy: &str) -> Vec<String> {
        let mut n: Vec<String> = index.of(ns, policy).iter().map(|j| j.name_any()).collect();
        n.sort();
        n
    }

    #[test]
    fn groups_by_namespace_and_policy() {
        let index = OwnedIndex::new();
        index.apply(&Event::Apply(job("a", "web-1", Some("web"))));
        index.apply(&Event::Apply(job("a", "webshop-1", Some("webshop"))));
        index.apply(&Event::Apply(job("b", "web-2", Some("web"))));
        index.apply(&Event::Apply(job("a", "stray", None)));
        assert_eq!(names(&index, "a", "web"), ["web-1"]);
        assert_eq!(names(&index, "a", "webshop"), ["webshop-1"]);
        assert_eq!(names(&index, "b", "web"), ["web-2"]);
        assert!(index.of("c", "web").is_empty());
        assert_eq!(index.len(), 3, "unlabelled objects are not kept");
    }

    #[test]
    fn apply_replaces_and_delete_removes() {
        let index = OwnedIndex::new();
        let mut j = job("a", "web-1", Some("web"));
        index.apply(&Event::Apply(j.clone()));
        j.metadata.resource_version = Some("2".into());
        index.apply(&Event::Apply(j.clone()));
        let got = index.of("a", "web");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].metadata.resource_version.as_deref(), Some("2"));
        index.apply(&Event::Delete(j));
        assert!(index.of("a", "web").is_empty());
        assert!(index.is_empty());
    }

    #[test]
    fn a_relist_replaces_everything_only_when_done() {
        let index = OwnedIndex::new();
        assert!(!index.is_ready());
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(job("a", "web-1", Some("web"))));
        index.apply(&Event::InitApply(job("a", "web-2", Some("web"))));
        assert!(!index.is_ready());
        assert!(
            index.of("a", "web").is_empty(),
            "nothing shows before InitDone"
        );
        index.apply(&Event::InitDone);
        assert!(index.is_ready());
        assert_eq!(names(&index, "a", "web"), ["web-1", "web-2"]);

        // A relist after a desync: web-1 went while the watch was down.
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(job("a", "web-2", Some("web"))));
        assert_eq!(
            names(&index, "a", "web"),
            ["web-1", "web-2"],
            "the old content serves reads during the relist"
        );
        index.apply(&Event::InitDone);
        assert_eq!(names(&index, "a", "web"), ["web-2"]);
        assert!(index.is_ready());
    }

    #[tokio::test]
    async fn readers_wait_for_the_first_list() {
        let index: OwnedIndex<Job> = OwnedIndex::new();
        assert!(!index.wait_ready(Duration::from_millis(10)).await);
        let writer = index.clone();
        let waiter = tokio::spawn(async move { index.wait_ready(Duration::from_secs(5)).await });
        writer.apply(&Event::Init);
        writer.apply(&Event::InitDone);
        assert!(waiter.await.unwrap());
    }
}
