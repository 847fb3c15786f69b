//! The status each policy got from this replica's last write, for the reconcile that
//! follows it before the policy watch has delivered that write.
//!
//! A reconcile works on the policy as cached. When it writes the status, the Job it
//! created usually triggers the next reconcile at once, and that one may still see the
//! cached policy from before the write: it would record the same results again (events,
//! metrics and alerts twice). So the written status is kept together with the version
//! it replaced, and used while the cache still shows exactly that version. Any other
//! version (the write arrived, or anything else changed) drops it: the cache wins.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::ResourceExt;
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::BackupPolicyStatus;

use crate::runtime::kube_io::path_of;

struct Written {
    uid: Option<String>,
    /// `resourceVersion` of the cached policy the write was based on.
    replaced: Option<String>,
    status: Option<BackupPolicyStatus>,
}

/// Written statuses by `namespace/name` ([`path_of`]).
#[derive(Default)]
pub struct WrittenStatuses {
    by_policy: Mutex<HashMap<String, Written>>,
}

impl WrittenStatuses {
    /// The status to reconcile `policy` (as cached) from.
    pub fn current(&self, policy: &BackupPolicy) -> Option<BackupPolicyStatus> {
        let Ok(mut map) = self.by_policy.lock() else {
            return policy.status.clone();
        };
        let k = path_of(policy);
        match map.get(&k) {
            Some(w) if w.uid == policy.uid() && w.replaced == policy.resource_version() => {
                w.status.clone()
            }
            Some(_) => {
                map.remove(&k);
                policy.status.clone()
            }
            None => policy.status.clone(),
        }
    }

    /// Remembers that `status` was written over `policy` (the version the reconcile had).
    pub fn remember(&self, policy: &BackupPolicy, status: Option<BackupPolicyStatus>) {
        if let Ok(mut map) = self.by_policy.lock() {
            map.insert(
                path_of(policy),
                Written {
                    uid: policy.uid(),
                    replaced: policy.resource_version(),
                    status,
                },
            );
        }
    }

    /// Drops the entry of `policy` once the policy watch delivers a version other than
    /// the one the write replaced (the write itself, or any later change): from then on
    /// the cache serves, and [`WrittenStatuses::current`] would drop it anyway. Called
    /// for every watched policy so that entries do not stay until the policy's next
    /// reconcile (at a tick of 10,000 policies, a full status each).
    pub fn settle(&self, policy: &BackupPolicy) {
        if let Ok(mut map) = self.by_policy.lock() {
            let k = path_of(policy);
            if map
                .get(&k)
                .is_some_and(|w| w.uid != policy.uid() || w.replaced != policy.resource_version())
            {
                map.remove(&k);
            }
        }
    }

    /// Forgets a deleted policy.
    pub fn forget(&self, namespace: &str, name: &str) {
        if let Ok(mut map) = self.by_policy.lock() {
            map.remove(&format!("{namespace}/{name}"));
        }
    }

    /// Whether nothing is remembered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_policy.lock().map(|m| m.is_empty()).unwrap_or(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(rv: &str, uid: &str, runs: i64) -> BackupPolicy {
        crate::testing::minimal_policy(|v| {
            v["metadata"]["resourceVersion"] = json!(rv);
            v["metadata"]["uid"] = json!(uid);
            v["status"]["consecutiveFailures"] = json!(runs);
        })
    }

    fn failures(s: Option<BackupPolicyStatus>) -> i64 {
        s.unwrap().consecutive_failures.into()
    }

    #[test]
    fn the_written_status_serves_until_the_cache_moves() {
        let written = WrittenStatuses::default();
        let cached = policy("5", "u1", 0);
        assert_eq!(failures(written.current(&cached)), 0, "nothing written yet");
        written.remember(&cached, policy("7", "u1", 1).status);
        // The cache still shows the version the write replaced: the write is newer.
        assert_eq!(failures(written.current(&cached)), 1);
        assert_eq!(failures(written.current(&cached)), 1);
        // The cache moved (our write, or any other change): the cache wins from now on.
        let moved = policy("7", "u1", 1);
        assert_eq!(failures(written.current(&moved)), 1);
        assert!(written.is_empty());
        assert_eq!(
            failures(written.current(&cached)),
            0,
            "an entry, once dropped, never comes back"
        );
    }

    #[test]
    fn the_watch_settles_an_entry_once_it_delivers_a_newer_version() {
        let written = WrittenStatuses::default();
        let cached = policy("5", "u1", 0);
        written.remember(&cached, policy("7", "u1", 1).status);
        written.settle(&cached);
        assert!(
            !written.is_empty(),
            "the version the write replaced keeps it"
        );
        written.settle(&policy("7", "u1", 1));
        assert!(written.is_empty());
    }

    #[test]
    fn a_recreated_policy_does_not_inherit_a_status() {
        let written = WrittenStatuses::default();
        written.remember(&policy("5", "u1", 0), policy("6", "u1", 3).status);
        assert_eq!(failures(written.current(&policy("5", "u2", 0))), 0);
        written.remember(&policy("5", "u1", 0), policy("6", "u1", 3).status);
        written.forget("shop", "web");
        assert!(written.is_empty());
    }
}
