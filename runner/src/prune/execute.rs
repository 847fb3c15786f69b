//! Carrying out a prune: backups (manifest first, then data, so an interrupted run
//! leaves an orphan that a later run removes, never a listed backup without data),
//! orphans, stale uploads. Every key is checked against the policy prefix right before
//! its request. A few deletions run at once; the first failure or a signal stops the run
//! and what was done so far is reported.

use std::collections::BTreeMap;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::error::{Error, Result};
use crate::retention::{MultipartUpload, PolicyPrefix};
use crate::s3::store::{Aborted, ObjectStore};
use crate::signals::Shutdown;

use super::decide::DoomedBackup;

/// Deletions running at once.
const CONCURRENCY: usize = 8;

/// How a key must relate to the policy prefix to be deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Directly under the prefix (retention, orphans).
    Children,
    /// Anywhere under the prefix (`--all`).
    Subtree,
}

/// Where deletions go and what they may touch.
pub struct Deleter<'a> {
    pub store: &'a dyn ObjectStore,
    pub prefix: &'a PolicyPrefix,
    pub scope: Scope,
    /// Object sizes from the listing, for the freed-bytes total.
    pub sizes: &'a BTreeMap<String, u64>,
    pub shutdown: &'a Shutdown,
}

/// What was done (also when stopped early).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Backup keys deleted (manifest and data).
    pub backups: Vec<String>,
    /// Other objects deleted.
    pub objects: u32,
    pub uploads: u32,
    pub bytes: u64,
}

enum Unit<'k> {
    Backup(&'k DoomedBackup),
    Object(&'k str),
    Upload(&'k MultipartUpload),
}

impl Deleter<'_> {
    /// Deletes `backups`, then `objects`, then aborts `uploads`. Returns what was done,
    /// and the error that stopped the run, if any.
    pub async fn run(
        &self,
        backups: &[DoomedBackup],
        objects: &[String],
        uploads: &[MultipartUpload],
    ) -> (Done, Option<Error>) {
        let mut done = Done::default();
        let units = backups
            .iter()
            .map(Unit::Backup)
            .chain(objects.iter().map(|k| Unit::Object(k)))
            .chain(uploads.iter().map(Unit::Upload));
        let mut pending = units.into_iter();
        let mut running = FuturesUnordered::new();
        let mut stop = self.shutdown.clone();
        loop {
            while running.len() < CONCURRENCY {
                let Some(unit) = pending.next() else { break };
                running.push(async move {
                    let result = self.unit(&unit).await;
                    (unit, result)
                });
            }
            let next = tokio::select! {
                n = running.next() => n,
                sig = stop.wait() => return (done, Some(Error::Interrupted(sig))),
            };
            let Some((unit, result)) = next else { break };
            if let Err(e) = result {
                return (done, Some(e));
            }
            match unit {
                Unit::Backup(b) => {
                    done.bytes += b.keys().into_iter().map(|k| self.size(k)).sum::<u64>();
                    done.backups.push(b.key.clone());
                }
                Unit::Object(k) => {
                    done.bytes += self.size(k);
                    done.objects += 1;
                }
                Unit::Upload(_) => done.uploads += 1,
            }
        }
        (done, None)
    }

    fn size(&self, key: &str) -> u64 {
        self.sizes.get(key).copied().unwrap_or(0)
    }

    async fn unit(&self, unit: &Unit<'_>) -> Result<()> {
        match unit {
            Unit::Backup(b) => {
                for key in b.keys() {
                    self.delete(key).await?;
                }
                Ok(())
            }
            Unit::Object(k) => self.delete(k).await,
            Unit::Upload(u) => self.abort(u).await,
        }
    }

    fn guard(&self, key: &str) -> Result<()> {
        let inside = match self.scope {
            Scope::Children => self.prefix.contains(key),
            Scope::Subtree => key
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| !rest.is_empty()),
        };
        if inside {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "refusing to delete {key}: it is outside the policy prefix {}",
                self.prefix
            )))
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.guard(key)?;
        self.store.delete(key).await?;
        tracing::info!(bucket = self.store.bucket(), key, "deleted");
        Ok(())
    }

    async fn abort(&self, upload: &MultipartUpload) -> Result<()> {
        self.guard(&upload.key)?;
        // Gone means completed or aborted meanwhile: nothing left to clean up.
        let _: Aborted = self
            .store
            .abort_upload(&upload.key, &upload.upload_id)
            .await?;
        tracing::info!(bucket = self.store.bucket(), key = %upload.key, "multipart upload aborted");
        Ok(())
    }
}
