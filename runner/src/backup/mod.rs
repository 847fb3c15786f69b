//! `backup`: snapshot → pg_dump → compression → encryption → SHA-256 → multipart upload
//! → SHA-256 tag (or metadata) → manifest. Any failure or signal before the upload completed
//! aborts it and stops pg_dump; nothing half-written is left.

pub mod manifest;
pub mod run;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tidemark_crd::contract::keys;
use tidemark_crd::contract::manifest::RunInfo;
use tidemark_crd::contract::result::BackupResult;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};

use tidemark_crd::contract::values::{DumpFormat, RowCountMode};

use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::pg::archive_rows::ArchiveRowCounter;
use crate::pg::binary;
use crate::pg::child::{Started, ToolProcess};
use crate::pg::connect::DbTarget;
use crate::pg::dump::DumpSpec;
use crate::pg::snapshot::{ServerInfo, SnapshotSession};
use crate::pipeline::part_size;
use crate::pipeline::sink::PartSink;
use crate::pipeline::stream::{self, StreamTotals};
use crate::s3::commit;
use crate::s3::listing::head_size;
use crate::s3::store::{ObjectStore, PartReceipt};
use crate::s3::upload::MultipartUpload;
use crate::signals::Shutdown;
use settings::{Settings, compression_tag, format_tag};

/// Runs one backup of the connection's database (a single-database policy).
pub async fn run(settings: &Settings, shutdown: &Shutdown) -> Result<BackupResult> {
    backup_database(settings, &settings.db, None, shutdown).await
}

/// Where one database of a multi-database run goes: the run's timestamp (claimed by the
/// run), the database's key, and the run section of its manifest.
#[derive(Clone, Debug)]
pub struct Slot {
    pub started_at: chrono::DateTime<Utc>,
    pub key: String,
    pub run: RunInfo,
}

/// Backs up the database `db` connects to in its own snapshot: data object, then
/// manifest. Without a `slot` the backup claims its own key (single database).
pub async fn backup_database(
    settings: &Settings,
    db: &DbTarget,
    slot: Option<&Slot>,
    shutdown: &Shutdown,
) -> Result<BackupResult> {
    let mut stop = shutdown.clone();
    let session = tokio::select! {
        s = SnapshotSession::open(db) => s?,
        sig = stop.wait() => return Err(Error::Interrupted(sig)),
    };
    let result = in_snapshot(settings, db, &session, slot, shutdown).await;
    session.close().await;
    result
}

async fn in_snapshot(
    settings: &Settings,
    db: &DbTarget,
    session: &SnapshotSession,
    slot: Option<&Slot>,
    shutdown: &Shutdown,
) -> Result<BackupResult> {
    let server = &session.server;
    tracing::info!(server = %server.version, database = %server.database,
        snapshot = %session.snapshot, "snapshot exported");
    let pg_dump = binary::locate(
        &settings.pg_bin_root,
        server.version_num,
        server.version_num / 10_000,
        "pg_dump",
    )?;
    let pg_dump_version = binary::version_of(&pg_dump).await?;
    let store = crate::s3::client::connect(&settings.s3).await?;
    let ext = keys::extension(
        format_tag(settings.dump.format),
        compression_tag(settings.dump.compression),
        !settings.recipients.is_empty(),
    );
    let bucket = store.bucket();
    let part_size = choose_part_size(store.as_ref(), settings, server).await;
    let (started_at, key) = match slot {
        Some(slot) => (slot.started_at, slot.key.clone()),
        None => unused_key(store.as_ref(), settings, &ext).await?,
    };
    let result: Result<BackupResult> = async {
        let mut stop = shutdown.clone();
        let upload = tokio::select! {
            u = MultipartUpload::create(&store, &key, &settings.object) => u?,
            sig = stop.wait() => return Err(Error::Interrupted(sig)),
        };
        tracing::info!(bucket = %bucket, key = %key, pg_dump = %pg_dump.display(), "upload started");

        let spec = DumpSpec {
            binary: pg_dump,
            format: settings.dump.format,
            snapshot: session.snapshot.clone(),
            include_schemas: settings.dump.include_schemas.clone(),
            exclude_schemas: settings.dump.exclude_schemas.clone(),
            include_tables: settings.dump.include_tables.clone(),
            exclude_tables: settings.dump.exclude_tables.clone(),
            env: db.child_env(),
        };
        let clock = Instant::now();
        let streamed =
            stream_and_upload(settings, session, &upload, &spec, part_size, shutdown).await;
        let (totals, tables, parts) = match streamed {
            Ok(v) => v,
            Err(e) => {
                upload.abort().await;
                return Err(e);
            }
        };
        if let Err(e) = upload.complete(parts, totals.stored.bytes).await {
            upload.abort().await;
            // The completion may have taken effect even though it reported an error.
            commit::delete_quietly(store.as_ref(), &key).await;
            return Err(e);
        }
        tracing::info!(key = %key, parts = totals.stored.parts, "upload completed");
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let completed_at = Utc::now();
        let sha256 = totals.stored.sha256.clone();

        let manifest = manifest::build(manifest::Inputs {
            settings,
            server,
            key: &key,
            started_at,
            completed_at,
            totals: &totals,
            pg_dump_version: &pg_dump_version,
            tables,
            run: slot.map(|s| s.run.clone()),
        });
        let manifest_key = keys::manifest_key(&key);
        let body = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Internal(format!("manifest not serialisable: {e}")))?;
        let stamped = commit::stamp_sha256(
            store.as_ref(),
            settings.upload.sha256_stamp,
            &key,
            totals.stored.bytes,
            &sha256,
            &settings.object,
            settings.s3.single_copy_max,
        )
        .await;
        if let Err(e) = stamped {
            // No manifest was written yet: the data object goes.
            commit::delete_quietly(store.as_ref(), &key).await;
            return Err(e);
        }
        let committed = commit::put_manifest(
            store.as_ref(),
            &manifest_key,
            body,
            &sha256,
            &settings.object,
        )
        .await;
        if let Err(failure) = committed {
            // Data first, manifest last: the data object is removed only when the manifest
            // is known to be absent, so no manifest ever outlives its data.
            if failure.absent {
                commit::delete_quietly(store.as_ref(), &key).await;
            }
            return Err(failure.error);
        }
        tracing::info!(key = %key, stored = totals.stored.bytes, raw = totals.raw_bytes,
            parts = totals.stored.parts, duration_ms, "backup committed");
        Ok(manifest::result(&manifest, manifest_key, duration_ms))
    }
    .await;
    if slot.is_none() {
        // A run's claim is the run's to release.
        commit::release(store.as_ref(), &key).await;
    }
    result
}

/// The one part size of this upload ([`part_size::choose`]): from the newest good
/// backup's stored size with headroom and the database's size on disk. An unreadable
/// inventory only loses the first input (with a warning).
async fn choose_part_size(
    store: &dyn ObjectStore,
    settings: &Settings,
    server: &ServerInfo,
) -> u64 {
    let database_size = server.database_size;
    let prefix = settings.policy.prefix(&settings.s3.prefix);
    let previous_stored = match Inventory::load(store, &prefix).await {
        Ok(inventory) => inventory
            .entries()
            .iter()
            .rev()
            .find(|e| e.manifest.database == server.database)
            .map(|e| e.manifest.stored_size),
        Err(e) => {
            tracing::warn!(error = %e, "previous backups unreadable; part size from the database size");
            None
        }
    };
    let estimate = part_size::Estimate {
        previous_stored,
        database_size,
    };
    let chosen = part_size::choose(settings.upload.part_size, &estimate);
    tracing::info!(
        part_size = chosen,
        previous_stored,
        database_size,
        "part size chosen"
    );
    chosen
}

/// Keys have one-second resolution: several runs of one policy may start in the same
/// second (a runNow beside a scheduled run, a retried Job). Each run claims its key
/// atomically ([`commit::claim`]); a run that loses the claim, or finds the key already
/// used by a committed backup, moves on to the next second. The caller releases the
/// claim when the run ends.
async fn unused_key(
    store: &dyn ObjectStore,
    settings: &Settings,
    ext: &str,
) -> Result<(chrono::DateTime<Utc>, String)> {
    claim_second(store, settings, |started_at| {
        let key = keys::backup_key(
            &settings.s3.prefix,
            &settings.policy.namespace,
            &settings.policy.name,
            started_at,
            ext,
        );
        (key.clone(), vec![key])
    })
    .await
}

/// Claims the first second whose claim key `keys_at(t).0` this run wins and none of
/// whose keys `keys_at(t).1` (nor their manifests) exist; returns it and the claim key.
pub(crate) async fn claim_second(
    store: &dyn ObjectStore,
    settings: &Settings,
    keys_at: impl Fn(chrono::DateTime<Utc>) -> (String, Vec<String>),
) -> Result<(chrono::DateTime<Utc>, String)> {
    let opts = &settings.object;
    for _ in 0..CLAIM_ATTEMPTS {
        let started_at = Utc::now();
        let (key, taken) = keys_at(started_at);
        if commit::claim(store, &key, opts).await? == commit::Claim::Won {
            let mut free = true;
            for k in &taken {
                if head_size(store, k).await?.is_some()
                    || head_size(store, &keys::manifest_key(k)).await?.is_some()
                {
                    free = false;
                    break;
                }
            }
            if free {
                return Ok((started_at, key));
            }
            commit::release(store, &key).await;
        }
        tracing::info!(key = %key, "another run has this key; waiting for the next second");
        let into_second = u64::from(started_at.timestamp_subsec_millis());
        tokio::time::sleep(std::time::Duration::from_millis(
            1_001 - into_second.min(1_000),
        ))
        .await;
    }
    Err(Error::Internal(format!(
        "no unused backup key after {CLAIM_ATTEMPTS} seconds: the clock does not advance"
    )))
}

/// Seconds tried for a free key (each concurrent run of a policy needs one).
const CLAIM_ATTEMPTS: u32 = 30;

type Streamed = (StreamTotals, BTreeMap<String, i64>, Vec<PartReceipt>);

/// Runs pg_dump, the stream thread, the part uploads and the row counts together;
/// the first failure (or a signal) stops everything.
async fn stream_and_upload(
    settings: &Settings,
    session: &SnapshotSession,
    upload: &MultipartUpload,
    spec: &DumpSpec,
    part_size: u64,
    shutdown: &Shutdown,
) -> Result<Streamed> {
    let permits = Arc::new(Semaphore::new(settings.upload.parts_in_flight));
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = PartSink::new(tx, permits.clone(), Handle::current(), part_size);
    let Started {
        process: dump,
        stdout,
        ..
    } = ToolProcess::spawn(&spec.tool())?;
    let stdout = stdout.ok_or_else(|| Error::Internal("pg_dump stdout missing".into()))?;
    // Exact counts of a custom-format dump are read from the archive itself; other
    // cases ask the server inside the snapshot (concurrently with the dump).
    let from_archive = settings.dump.row_count_mode == RowCountMode::Exact
        && settings.dump.format == DumpFormat::Custom;
    let counter = from_archive.then(ArchiveRowCounter::new);
    let handle = stream::spawn(
        stdout,
        settings.compression,
        settings.recipients.clone(),
        sink,
        counter,
    )?;
    let mut stop = shutdown.clone();
    let result = {
        let streamed = async {
            handle
                .done
                .await
                .map_err(|_| Error::Internal("the stream thread vanished".into()))?
        };
        let work = async {
            let counts = async {
                if from_archive {
                    Ok(BTreeMap::new())
                } else {
                    session
                        .row_counts(&settings.filter, settings.dump.row_count_mode)
                        .await
                }
            };
            tokio::try_join!(
                streamed,
                upload.upload_parts(rx, permits.clone()),
                counts,
                dump.wait_success(),
            )
        };
        tokio::select! {
            r = work => r,
            sig = stop.wait() => Err(Error::Interrupted(sig)),
        }
    };
    match result {
        Ok((totals, parts, tables, ())) => {
            let tables = match &totals.row_counts {
                Some(Ok(counted)) => counted.clone(),
                Some(Err(why)) => {
                    // Still inside the snapshot: the fallback counts the same data.
                    tracing::warn!(reason = %why,
                        "rows could not be counted from the archive; counting in the snapshot");
                    session
                        .row_counts(&settings.filter, RowCountMode::Exact)
                        .await?
                }
                None => tables,
            };
            Ok((totals, tables, parts))
        }
        Err(e) => {
            permits.close();
            dump.kill();
            Err(e)
        }
    }
}
