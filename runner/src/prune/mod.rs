//! `prune`: grandfather-father-son retention over the manifests of one policy, plus
//! cleanup of manifest-less objects and multipart uploads older than the grace period,
//! all strictly inside the policy prefix `<prefix>/<namespace>/<policy>/`.
//!
//! - The decision is the pure [`crate::retention::plan`] and
//!   [`crate::retention::find_orphans`]; [`decide::check`] refuses a decision that
//!   would delete the newest backup or anything not directly under the prefix, and
//!   every request checks its key again.
//! - A dropped backup loses its manifest first, then its data object.
//! - Manifests whose data object is missing are reported (logged), never deleted.
//! - `--dry-run` decides and reports, deleting nothing.
//! - `--all` (the operator's `deletionPolicy: Delete`) deletes every object anywhere
//!   under the prefix — manifests first — and aborts every upload there, ignoring
//!   retention and grace; nothing outside the prefix.
//!
//! A run with no retention tier configured is refused (it would keep only the newest
//! backup); `--all` needs none.

pub mod decide;
pub mod execute;
pub mod summary;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use tidemark_crd::contract::keys::{self, MANIFEST_SUFFIX};
use tidemark_crd::contract::result::PruneResult;

use crate::error::Error;
use crate::inventory::{Inventory, PolicyRef};
use crate::list::{count, newest_keys};
use crate::outcome::{Failure, Outcome, Payload};
use crate::retention::{PolicyPrefix, RetentionPolicy};
use crate::s3::listing;
use crate::s3::settings::S3Settings;
use crate::s3::store::{ListedObject, ObjectStore};
use crate::signals::Shutdown;
use decide::{Decision, DoomedBackup, Rules};
use execute::{Deleter, Done, Scope};

/// Settings of `prune`: the retention policy, the grace period for leftovers, and the
/// modes (`dry_run`, `all`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    pub retention: RetentionPolicy,
    /// The time zone retention periods are computed in.
    pub tz: chrono_tz::Tz,
    /// Objects without a manifest and uploads are removed once older than this.
    pub orphan_grace_period: std::time::Duration,
    /// Decide and report, delete nothing.
    pub dry_run: bool,
    /// Delete everything under the policy prefix (`deletionPolicy: Delete`).
    pub all: bool,
}

/// Runs `prune`.
pub async fn run(args: &Settings, shutdown: &Shutdown) -> Outcome {
    let tz = args.tz;
    if !args.all && args.retention == RetentionPolicy::default() {
        return Err(Error::config(
            "no retention tier is configured: set at least one of TIDEMARK_KEEP_HOURLY, \
             TIDEMARK_KEEP_DAILY, TIDEMARK_KEEP_WEEKLY, TIDEMARK_KEEP_MONTHLY, \
             TIDEMARK_KEEP_YEARLY (or TIDEMARK_PRUNE_ALL to delete everything)",
        )
        .into());
    }
    let prefix = args.policy.prefix(&args.s3.prefix);
    let prefix =
        PolicyPrefix::for_policy(&args.s3.prefix, &args.policy.namespace, &args.policy.name)
            .map_err(|e| Error::config(format!("policy prefix {prefix:?}: {e}")))?;
    let store = crate::s3::client::connect(&args.s3).await?;
    if args.all {
        return all(store.as_ref(), &prefix, args.dry_run, shutdown).await;
    }
    let rules = Rules {
        policy: args.retention,
        tz,
        grace: args.orphan_grace_period,
        now: Utc::now(),
    };
    retain(store.as_ref(), &prefix, &rules, args.dry_run, shutdown).await
}

/// Retention, orphans and stale uploads under `prefix`: decides, then deletes (unless
/// `dry_run`).
pub async fn retain(
    store: &dyn ObjectStore,
    prefix: &PolicyPrefix,
    rules: &Rules,
    dry_run: bool,
    shutdown: &Shutdown,
) -> Outcome {
    let bucket = store.bucket();
    let scan = Inventory::scan(store, prefix.as_str()).await?;
    let uploads = listing::list_uploads(store, prefix.as_str()).await?;
    let decision = decide::decide(prefix, &scan.inventory, &scan.objects, &uploads, rules)?;
    for manifest in &decision.broken {
        tracing::warn!(bucket, manifest = %manifest,
            "backup without its data object: left for a person to look at");
    }
    tracing::info!(bucket, prefix = %prefix, kept = decision.plan.keep.len(),
        deleted = decision.backups.len(), orphans = decision.orphans.len(),
        uploads = decision.uploads.len(), dry_run, "retention decided");

    let sizes = sizes(&scan.objects);
    let done = if dry_run {
        Done {
            backups: decision.backups.iter().map(|b| b.key.clone()).collect(),
            objects: count(decision.orphans.len()),
            uploads: count(decision.uploads.len()),
            bytes: would_free(&decision, &sizes),
        }
    } else {
        let deleter = Deleter {
            store,
            prefix,
            scope: Scope::Children,
            sizes: &sizes,
            shutdown,
        };
        let (done, error) = deleter
            .run(&decision.backups, &decision.orphans, &decision.uploads)
            .await;
        if let Some(error) = error {
            return Err(Failure::with(
                error,
                Payload::Prune(result(&decision, done, false)),
            ));
        }
        done
    };
    Ok(Payload::Prune(result(&decision, done, dry_run)))
}

/// `--all`: every object under the prefix (manifests first), every upload.
pub async fn all(
    store: &dyn ObjectStore,
    prefix: &PolicyPrefix,
    dry_run: bool,
    shutdown: &Shutdown,
) -> Outcome {
    let bucket = store.bucket();
    let objects = listing::list_objects(store, prefix.as_str()).await?;
    let uploads = listing::list_uploads(store, prefix.as_str()).await?;
    // Backups (direct children with a manifest) are reported by key; manifests go
    // first, so no listing ever shows a backup whose data is already gone.
    let mut backups = Vec::new();
    let mut others = Vec::new();
    for o in &objects {
        let data = keys::backup_key_of_manifest(&o.key);
        match data {
            Some(data) if prefix.contains(&o.key) && !data.ends_with('/') => {
                backups.push(DoomedBackup {
                    key: data.to_string(),
                    manifest_key: o.key.clone(),
                    // Globals objects are among the other objects deleted here.
                    globals_key: None,
                })
            }
            _ => others.push(o.key.clone()),
        }
    }
    // A data object is deleted with its backup; drop it from the other objects.
    let paired: BTreeSet<&str> = backups.iter().map(|b| b.key.as_str()).collect();
    others.retain(|k| !paired.contains(k.as_str()));
    // Remaining manifests (deeper ones) before the rest.
    others.sort_by_key(|k| (!k.ends_with(MANIFEST_SUFFIX), k.clone()));
    tracing::info!(bucket, prefix = %prefix, objects = objects.len(), uploads = uploads.len(),
        dry_run, "deleting everything under the policy prefix");
    let sizes = sizes(&objects);
    let report = |done: Done| PruneResult {
        dry_run,
        kept: Vec::new(),
        kept_count: 0,
        deleted_count: count(done.backups.len()),
        deleted: done.backups,
        orphans_deleted: done.objects,
        uploads_aborted: done.uploads,
        bytes_deleted: done.bytes,
        truncated: false,
        broken_count: 0,
        broken: Vec::new(),
    };
    if dry_run {
        let done = Done {
            backups: backups.iter().map(|b| b.key.clone()).collect(),
            objects: count(others.len()),
            uploads: count(uploads.len()),
            bytes: objects.iter().map(|o| o.size).sum(),
        };
        return Ok(Payload::Prune(fit(report(done))));
    }
    let deleter = Deleter {
        store,
        prefix,
        scope: Scope::Subtree,
        sizes: &sizes,
        shutdown,
    };
    let (done, error) = deleter.run(&backups, &others, &uploads).await;
    match error {
        Some(error) => Err(Failure::with(error, Payload::Prune(fit(report(done))))),
        None => Ok(Payload::Prune(fit(report(done)))),
    }
}

/// The report payload of a retention run.
fn result(decision: &Decision, done: Done, dry_run: bool) -> PruneResult {
    fit(PruneResult {
        dry_run,
        kept: summary::kept(&decision.plan.keep),
        kept_count: count(decision.plan.keep.len()),
        deleted_count: count(done.backups.len()),
        deleted: done.backups,
        orphans_deleted: done.objects,
        uploads_aborted: done.uploads,
        bytes_deleted: done.bytes,
        truncated: false,
        broken_count: count(decision.broken.len()),
        broken: newest_keys(decision.broken.iter().map(String::as_str)),
    })
}

fn fit(result: PruneResult) -> PruneResult {
    summary::fit(result, summary::MAX_PRUNE_JSON)
}

fn sizes(objects: &[ListedObject]) -> BTreeMap<String, u64> {
    objects.iter().map(|o| (o.key.clone(), o.size)).collect()
}

fn would_free(decision: &Decision, sizes: &BTreeMap<String, u64>) -> u64 {
    let size = |k: &str| sizes.get(k).copied().unwrap_or(0);
    decision
        .backups
        .iter()
        .map(|b| size(&b.key) + size(&b.manifest_key))
        .chain(decision.orphans.iter().map(|k| size(k)))
        .sum()
}
