//! `verify`: checks one backup (the newest, or one chosen by key or time) in the order
//! of [`VerifyCheckName::ALL`]: its manifest is present and readable, its data object
//! exists, the object's size equals the manifest's and reaches the minimum, the SHA-256
//! recomputed from a streaming download equals the manifest's, and it completed within
//! the maximum age.
//!
//! Without a manifest or an object the remaining checks cannot run and are absent from
//! the result; otherwise every check runs, so one report shows everything that is wrong.
//! Any failed check fails the run with [`Error::VerifyFailed`] (exit code 3) and the
//! result still lists every check. S3 errors (unreachable, denied) are not check
//! failures: they fail the run with their own kind, with the checks done so far.

mod checks;
mod checksum;

use std::time::Duration;

use chrono::Utc;
use tidemark_crd::contract::keys;
use tidemark_crd::contract::result::VerifyResult;

use crate::error::Error;
use crate::inventory::{Entry, Inventory, PolicyRef, Scan, Selector};
use crate::outcome::{Failure, Outcome, Payload};
use crate::s3::listing::head_size;
use crate::s3::settings::S3Settings;
use crate::s3::store::Store;
use crate::signals::Shutdown;
use tidemark_crd::units::ByteSize;

pub use checksum::{Digested, sha256_of};

/// Settings of `verify`: which backup, and the thresholds of its checks.
#[derive(Clone, Debug)]
pub struct Settings {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    pub selector: Selector,
    /// Only backups of this database; unset: each database of the newest run.
    pub database: Option<String>,
    /// Smallest acceptable stored object.
    pub min_size: ByteSize,
    /// Oldest acceptable completion, as an age.
    pub max_age: Duration,
    /// `NotShrunk` fails below (100 - this)% of the previous backup's stored size.
    pub max_shrink_percent: u8,
}

/// Runs `verify`. The newest backup of a run of several databases is verified as the
/// whole run: each database's object of that run in turn (a database without a backup
/// in it fails `ManifestPresent`); the report is the first failing database's, else
/// the last one's.
pub async fn run(args: &Settings, shutdown: &Shutdown) -> Outcome {
    let store = crate::s3::client::connect(&args.s3).await?;
    let prefix = args.policy.prefix(&args.s3.prefix);
    let scan = Inventory::scan(store.as_ref(), &prefix).await?;
    let newest_run = (args.database.is_none() && args.selector == Selector::Latest)
        .then(|| scan.inventory.including_broken().newest().cloned())
        .flatten()
        .and_then(|e| run_keys(&e));
    let Some(run_keys) = newest_run else {
        return verify_one(
            args,
            &store,
            &scan,
            &args.selector,
            args.database.as_deref(),
            shutdown,
        )
        .await;
    };
    let mut last = None;
    for (database, key) in run_keys {
        tracing::info!(database = %database, key = %key, "verifying one database of the newest run");
        let outcome = verify_one(
            args,
            &store,
            &scan,
            &Selector::Key(key),
            Some(&database),
            shutdown,
        )
        .await;
        match outcome {
            Err(f) => return Err(f),
            Ok(p) => last = Some(p),
        }
    }
    last.ok_or_else(|| Error::Internal("a run without databases".into()).into())
}

/// Each database of the run `entry` belongs to with the key its object has (or would
/// have) in that run; `None` for a backup outside a run of several databases.
fn run_keys(entry: &Entry) -> Option<Vec<(String, String)>> {
    let run = entry
        .manifest
        .run
        .as_ref()
        .filter(|r| r.databases.len() > 1)?;
    let own = format!(".{}.", keys::escape_database(&entry.manifest.database));
    let (head, ext) = entry.key.split_once(&own)?;
    Some(
        run.databases
            .iter()
            .map(|d| {
                (
                    d.clone(),
                    format!("{head}.{}.{ext}", keys::escape_database(d)),
                )
            })
            .collect(),
    )
}

async fn verify_one(
    args: &Settings,
    store: &Store,
    scan: &Scan,
    selector: &Selector,
    database: Option<&str>,
    shutdown: &Shutdown,
) -> Outcome {
    let bucket = store.bucket();
    let mut result = VerifyResult {
        key: None,
        backup_completed_at: None,
        stored_size: None,
        sha256: None,
        checks: Vec::new(),
    };

    // Verify looks at broken backups too: finding them is its job.
    let all = scan.inventory.including_broken();
    let entry: Entry = match all.select_in(selector, database) {
        Ok(entry) => entry,
        Err(e) => {
            let why = match &e {
                Error::BackupNotFound { key, .. } => {
                    result.key = Some(key.clone());
                    let unreadable = scan
                        .skipped_manifests
                        .iter()
                        .any(|m| keys::backup_key_of_manifest(m) == Some(key.as_str()));
                    if unreadable {
                        format!("the manifest of {key} exists but cannot be read as a manifest")
                    } else {
                        e.to_string()
                    }
                }
                _ => e.to_string(),
            };
            result.checks.push(checks::manifest_missing(why));
            return Err(failed(result));
        }
    };
    let manifest = &entry.manifest;
    result.key = Some(entry.key.clone());
    result.backup_completed_at = Some(manifest.completed_at);
    result.stored_size = Some(manifest.stored_size);
    result.sha256 = Some(manifest.sha256.clone());
    result
        .checks
        .push(checks::manifest_present(&entry.manifest_key, manifest));
    tracing::info!(bucket = %bucket, key = %entry.key, "verifying");

    let size = match head_size(store.as_ref(), &entry.key).await {
        Ok(size) => size,
        Err(e) => return Err(Failure::with(e, Payload::Verify(result))),
    };
    result.checks.push(checks::object_present(&entry.key, size));
    let Some(size) = size else {
        return Err(failed(result));
    };
    result.checks.push(checks::size_matches(size, manifest));
    result
        .checks
        .push(checks::minimum_size(size, args.min_size));
    let digested = match sha256_of(store.as_ref(), &entry.key, shutdown).await {
        Ok(d) => d,
        Err(e) => return Err(Failure::with(e, Payload::Verify(result))),
    };
    result.checks.push(checks::checksum_matches(
        &digested.sha256,
        digested.bytes,
        manifest,
    ));
    result.checks.push(checks::fresh(
        manifest.completed_at,
        args.max_age,
        Utc::now(),
    ));
    let previous = scan
        .inventory
        .entries()
        .iter()
        .filter(|e| e.manifest.completed_at < manifest.completed_at)
        // The previous backup of the same database (a run holds several).
        .filter(|e| e.manifest.database == manifest.database)
        .max_by_key(|e| e.manifest.completed_at)
        .map(|e| (e.key.as_str(), e.manifest.stored_size));
    result
        .checks
        .push(checks::not_shrunk(size, previous, args.max_shrink_percent));

    for c in &result.checks {
        tracing::info!(check = c.name.as_str(), passed = c.passed, message = %c.message);
    }
    if result.passed() {
        Ok(Payload::Verify(result))
    } else {
        Err(failed(result))
    }
}

/// A failed verification that reports its checks; the error message names each failed
/// check with its message.
fn failed(result: VerifyResult) -> Failure {
    let key = result.key.clone().unwrap_or_else(|| "(no backup)".into());
    let failed = result
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} ({})", c.name.as_str(), c.message))
        .collect::<Vec<_>>()
        .join("; ");
    Failure::with(Error::VerifyFailed { key, failed }, Payload::Verify(result))
}
