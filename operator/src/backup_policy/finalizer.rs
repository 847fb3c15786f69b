//! `deletionPolicy: Delete`: the `tidemark.dev/purge` finalizer keeps a deleted policy
//! until a prune-everything Job has emptied its prefix. `Retain` policies carry no
//! finalizer (ours is removed when a policy is switched to `Retain`).
//!
//! Changing the list: [`crate::runtime::finalizer`].

use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::DeletionPolicy;

use crate::runtime::error::Error;
use crate::runtime::finalizer;

/// Our finalizer.
pub const PURGE_FINALIZER: &str = "tidemark.dev/purge";

/// What the finalizer logic wants done before (or instead of) a normal reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinalizerStep {
    /// Add the finalizer (policy is `Delete` and not being deleted).
    Add,
    /// Remove the finalizer (policy is `Retain`, or the purge is done).
    Remove,
    /// The policy is being deleted and is ours to purge.
    Purge,
    /// Being deleted, not ours: nothing to do.
    Gone,
    /// Reconcile normally.
    None,
}

/// The finalizer step for a policy (pure).
pub fn step(policy: &BackupPolicy) -> FinalizerStep {
    let has = finalizer::has(policy, PURGE_FINALIZER);
    let deleting = policy.metadata.deletion_timestamp.is_some();
    let delete = policy.spec.deletion_policy == DeletionPolicy::Delete;
    match (deleting, has, delete) {
        (true, false, _) => FinalizerStep::Gone,
        (true, true, true) => FinalizerStep::Purge,
        (true, true, false) | (false, true, false) => FinalizerStep::Remove,
        (false, false, true) => FinalizerStep::Add,
        (false, _, _) => FinalizerStep::None,
    }
}

/// Adds or removes our finalizer (a policy already gone needs neither).
pub async fn set(client: &kube::Client, policy: &BackupPolicy, present: bool) -> Result<(), Error> {
    finalizer::set(client, policy, PURGE_FINALIZER, present)
        .await
        .map(drop)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy(delete: bool, finalizer: bool, deleting: bool) -> BackupPolicy {
        let mut v = serde_json::json!({
            "apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"schedule": "0 * * * *",
                     "database": {"host": "h", "database": "d",
                                  "userSecretRef": {"name": "s", "key": "u"},
                                  "passwordSecretRef": {"name": "s", "key": "p"}},
                     "s3": {"bucket": "b"},
                     "deletionPolicy": if delete { "Delete" } else { "Retain" }}
        });
        if finalizer {
            v["metadata"]["finalizers"] = serde_json::json!([PURGE_FINALIZER]);
        }
        if deleting {
            v["metadata"]["deletionTimestamp"] = serde_json::json!("2026-11-23T12:00:00Z");
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_combination() {
        use FinalizerStep::*;
        let cases = [
            // (Delete?, has finalizer?, deleting?) → step
            ((true, false, false), Add),
            ((true, true, false), None),
            ((true, true, true), Purge),
            ((true, false, true), Gone),
            ((false, false, false), None),
            ((false, true, false), Remove),
            ((false, true, true), Remove),
            ((false, false, true), Gone),
        ];
        for ((d, f, del), expected) in cases {
            assert_eq!(step(&policy(d, f, del)), expected, "{d} {f} {del}");
        }
    }
}
