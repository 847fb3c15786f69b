//! The pure part of `prune`: from a scan of the policy prefix, the retention policy and
//! the clock, what to delete. Also the safety rule that nothing outside the prefix and
//! never the newest backup is selected.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::retention::{
    MultipartUpload, PolicyPrefix, RetentionPlan, RetentionPolicy, StoredObject, find_orphans,
    stale_uploads,
};
use crate::s3::store::ListedObject;

/// A backup to delete: its manifest goes first, then its data object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoomedBackup {
    pub key: String,
    pub manifest_key: String,
}

/// Everything one prune run deletes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// The retention plan (kept backups with their tiers, newest first).
    pub plan: RetentionPlan,
    /// Backups retention drops, newest first.
    pub backups: Vec<DoomedBackup>,
    /// Data objects without a manifest, older than the grace period.
    pub orphans: Vec<String>,
    /// Multipart uploads older than the grace period.
    pub uploads: Vec<MultipartUpload>,
    /// Manifests whose data object is missing (reported, never deleted).
    pub broken: Vec<String>,
}

/// The settings a prune decides by.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub policy: RetentionPolicy,
    pub tz: Tz,
    /// Age after which orphans and multipart uploads are removed.
    pub grace: Duration,
    pub now: DateTime<Utc>,
}

/// Decides what a prune of `prefix` deletes.
pub fn decide(
    prefix: &PolicyPrefix,
    inventory: &Inventory,
    objects: &[ListedObject],
    uploads: &[MultipartUpload],
    rules: &Rules,
) -> Result<Decision> {
    let Rules {
        policy,
        tz,
        grace,
        now,
    } = *rules;
    // Runs of several databases are kept or deleted whole (`inventory::runs`).
    let plan = inventory.retention_plan(&policy, tz);
    let backups: Vec<DoomedBackup> = plan
        .delete
        .iter()
        .filter_map(|key| inventory.entries().iter().find(|e| &e.key == key))
        .map(|e| DoomedBackup {
            key: e.key.clone(),
            manifest_key: e.manifest_key.clone(),
        })
        .collect();
    let stored: Vec<StoredObject> = objects.iter().map(StoredObject::from).collect();
    let report = find_orphans(&stored, &inventory.manifest_keys(), prefix, grace, now);
    // Broken backups (missing or wrongly sized data) are in no tier, and never deleted.
    let mut broken: Vec<String> = report
        .broken
        .into_iter()
        .chain(
            inventory
                .broken()
                .iter()
                .map(|b| b.entry.manifest_key.clone()),
        )
        .collect();
    broken.sort();
    broken.dedup();
    let decision = Decision {
        backups,
        orphans: report.orphans,
        uploads: stale_uploads(uploads, prefix, grace, now),
        broken,
        plan,
    };
    check(&decision, prefix, inventory)?;
    Ok(decision)
}

/// Refuses a decision that would delete the newest backup or anything that is not a
/// direct child of the prefix. These hold by construction; the check makes a bug in
/// any of the pieces above stop the run before a single delete.
pub fn check(decision: &Decision, prefix: &PolicyPrefix, inventory: &Inventory) -> Result<()> {
    if let Some(newest) = inventory.newest()
        && (decision.backups.iter().any(|b| b.key == newest.key)
            || decision.orphans.contains(&newest.key))
    {
        return Err(Error::Internal(format!(
            "refusing to prune: the decision would delete the newest backup {}",
            newest.key
        )));
    }
    let keys = decision
        .backups
        .iter()
        .flat_map(|b| [&b.key, &b.manifest_key])
        .chain(&decision.orphans)
        .chain(decision.uploads.iter().map(|u| &u.key));
    for key in keys {
        guard(prefix, key)?;
    }
    Ok(())
}

/// Fails unless `key` is a direct child of `prefix`.
pub fn guard(prefix: &PolicyPrefix, key: &str) -> Result<()> {
    if prefix.contains(key) {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "refusing to delete {key}: it is not directly under the policy prefix {prefix}"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn guard_refuses_neighbours_and_deeper_keys() {
        let p = PolicyPrefix::new("b/ns/web/").unwrap();
        assert!(guard(&p, "b/ns/web/20260101T000000Z.dump").is_ok());
        for key in [
            "b/ns/webshop/20260101T000000Z.dump",
            "b/ns/web/sub/20260101T000000Z.dump",
            "b/ns/web/",
            "other",
        ] {
            assert!(guard(&p, key).is_err(), "{key}");
        }
    }
}
