//! The parallel restore path (full restores of custom-format backups with a parallelism
//! of 2 or more), built in a side database while the backup downloads:
//! 1. the stream thread hashes, decrypts and decompresses the object and walks the
//!    archive ([`split`]): its TOC (and any large objects) go into a small side archive
//!    file ([`side_archive`]);
//! 2. as soon as the TOC is there, `pg_restore --section=pre-data` creates the schema in
//!    a side database ([`side`], [`names`]);
//! 3. the table rows stream on to N loading connections ([`load`]), several per large
//!    table, while the rest of the object still downloads;
//! 4. once the whole object's size and SHA-256 equal the manifest's and every row is in,
//!    the remaining data entries (sequence values, large objects) and then
//!    `pg_restore --section=post-data -j N` (indexes, constraints, triggers) run;
//! 5. the row counts are compared with the manifest, and the side database is swapped
//!    into the target's place by renaming.
//!
//! The target is never written: any failure before the swap drops the side database and
//! leaves the target as it was. See `docs/runner-restore.md`.

pub mod early;
pub mod load;
pub mod names;
pub mod session;
pub mod side;
pub mod side_archive;
pub mod split;

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::contract::result::{ErrorKind, RestoreResult};
use tidemark_crd::contract::values::RestoreContent;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::outcome::{Failure, Payload};
use crate::pg::archive_toc::{SECTION_DATA, Toc};
use crate::pg::binary;
use crate::pg::child::{Started, Tool, ToolProcess, ToolSpec};
use crate::pg::connect::DbTarget;
use crate::restore::compare::{self, check_object};
use crate::restore::execute;
use crate::restore::parallel::early::EarlyPlan;
use crate::restore::parallel::load::Tables;
use crate::restore::parallel::names::Names;
use crate::restore::parallel::side_archive::SideArchive;
use crate::restore::parallel::split::{Go, Handshake, Splitter};
use crate::restore::plan::{Plan, Route};
use crate::restore::result;
use crate::restore::roles;
use crate::restore::stream::{self, Decoding, Output, StreamReport};
use crate::restore::target::Session;
use crate::s3::download::{CHANNEL_CHUNKS, Download};
use crate::s3::store::Store;
use crate::signals::Shutdown;

/// One parallel restore.
pub struct Parallel<'a> {
    pub store: &'a Store,
    pub manifest: &'a Manifest,
    pub plan: &'a Plan,
    pub pg_bin_root: &'a Path,
    pub db: &'a DbTarget,
    pub maintenance_database: &'a str,
    pub create_database: bool,
    /// Where the side archive file goes.
    pub spool_dir: &'a Path,
    pub content: RestoreContent,
    /// Loading connections and `pg_restore` jobs.
    pub parallelism: u32,
    /// The `pg_restore` arguments without the database, the file and the section.
    pub pg_restore_args: Vec<String>,
    /// The backup's globals: the database's properties when the run creates it.
    pub globals: Option<&'a roles::Globals>,
}

/// The `pg_restore` arguments of the parallel path when it applies: a full restore of a
/// custom-format archive (the direct route) with `parallelism >= 2`. The side database
/// is empty and the tool runs several sessions: no `--clean`, no single transaction.
pub fn applies(plan: &Plan, content: RestoreContent, parallelism: u32) -> Option<Vec<String>> {
    if parallelism < 2 || content != RestoreContent::Full {
        return None;
    }
    let Route::PgRestore { args } = &plan.route else {
        return None;
    };
    Some(
        args.iter()
            .filter(|a| {
                !matches!(
                    a.as_str(),
                    "--single-transaction" | "--clean" | "--if-exists" | "--dbname="
                )
            })
            .cloned()
            .collect(),
    )
}

/// Whether the parallel path can run into `db` with the restoring role; when it cannot
/// (no `CREATEDB`, not the target's owner, a name too long for the side database, no
/// connection to the maintenance database) the reason is logged and the restore takes
/// the single stream.
pub async fn usable(db: &DbTarget, maintenance_database: &str) -> bool {
    let target = db.database();
    let why = async {
        if let Err(e) = Names::new(&target, "00000000") {
            return Ok::<_, Error>(Some(e.to_string()));
        }
        let maintenance = Session::open(&db.with_database(maintenance_database)).await?;
        side::why_not(&maintenance, &target).await
    }
    .await;
    let why = match why {
        Ok(None) => return true,
        Ok(Some(why)) => why,
        Err(e) => e.to_string(),
    };
    tracing::warn!(target = %target, reason = %why,
        "the parallel restore cannot run here; restoring with the single stream");
    false
}

/// Runs the parallel restore; a failure says whether the target was changed (never,
/// before the swap). Returns the result and whether the backup's database settings were
/// applied (to a database the run created).
pub async fn run(
    p: Parallel<'_>,
    decoding: Decoding,
    shutdown: &Shutdown,
) -> std::result::Result<(RestoreResult, bool), Failure> {
    let clock = Instant::now();
    let target = p.db.database();
    let id: String = crate::restore::token().chars().take(8).collect();
    let names = Names::new(&target, &id)?;
    let mut maintenance = Session::open(&p.db.with_database(p.maintenance_database)).await?;
    let server_version_num = maintenance.server_version_num().await?;
    side::drop_leftovers(&maintenance, &target).await?;
    let exists = maintenance.database_exists(&target).await?;
    if !p.create_database && !exists {
        return Err(Error::config(format!(
            "database {target} does not exist; create it or enable TIDEMARK_CREATE_DATABASE"
        ))
        .into());
    }
    // Without clean, what the target holds must not be thrown away by the swap.
    if exists && p.plan.needs_empty_target {
        let objects = Session::open(p.db).await?.user_objects().await?;
        if objects > 0 {
            return Err(Error::config(format!(
                "refusing to restore into database {target}: it already holds {objects} \
                 objects and this restore was asked not to drop them \
                 (TIDEMARK_RESTORE_CLEAN=false); enable clean, or restore into an empty or \
                 new database (TIDEMARK_CREATE_DATABASE)"
            ))
            .into());
        }
    }
    let download = execute::open_object(p.store, p.manifest, shutdown).await?;
    let (target_exists, settings) = side::create(&maintenance, &names, p.db, p.globals).await?;
    let comparison = match build(&p, &names, download, decoding, server_version_num, shutdown).await
    {
        Ok(c) => c,
        Err(f) => return Err(abandon(&maintenance, &names, f).await),
    };
    let swapped = async {
        side::end_side_sessions(&maintenance, &names.side).await?;
        side::swap(&mut maintenance, &names, target_exists).await
    }
    .await;
    if let Err(e) = swapped {
        return Err(abandon(&maintenance, &names, e.into()).await);
    }
    tracing::info!(target = %target, "swap committed: the restored database is in place");
    if target_exists {
        match maintenance.drop_database(&names.old).await {
            Ok(()) => tracing::info!(database = %names.old, "the replaced database was dropped"),
            Err(e) => tracing::warn!(database = %names.old, error = %e,
                "dropping the replaced database failed; the next parallel restore drops it"),
        }
    }
    let mut r = result::build(result::Facts {
        manifest: p.manifest,
        target_database: &target,
        database_created: !target_exists,
        content: p.content.report_name(),
        tables_restored: p.plan.restored.len(),
        comparison,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    r.parallelism = p.parallelism;
    Ok((r, settings))
}

/// Drops the side database after a failure; the target was not changed.
async fn abandon(maintenance: &Session, names: &Names, failure: Failure) -> Failure {
    match maintenance.drop_database(&names.side).await {
        Ok(()) => tracing::warn!(target = %names.target, side = %names.side,
            "parallel restore failed: the side database was dropped, the target is unchanged"),
        Err(e) => tracing::warn!(target = %names.target, side = %names.side, error = %e,
            "parallel restore failed: the target is unchanged; dropping the side database \
             failed (the next parallel restore drops it)"),
    }
    failure
}

/// Aborts the spawned tasks when dropped (a failure or a signal ends them all).
struct Tasks<T>(Vec<tokio::task::JoinHandle<T>>);

impl<T> Drop for Tasks<T> {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Builds the restore in the side database while the object downloads, then checks it.
async fn build(
    p: &Parallel<'_>,
    names: &Names,
    download: Download,
    decoding: Decoding,
    server_version_num: u32,
    shutdown: &Shutdown,
) -> std::result::Result<compare::Comparison, Failure> {
    let side_db = p.db.with_database(&names.side);
    let binary: PathBuf = binary::locate(
        p.pg_bin_root,
        server_version_num,
        crate::restore::versions::archive_major(p.manifest),
        Tool::PgRestore.name(),
    )?;
    let tool = PgRestore {
        binary,
        db: &side_db,
        args: &p.pg_restore_args,
        jobs: p.parallelism,
        shutdown,
    };
    let (archive, file) = SideArchive::create(p.spool_dir)?;
    let (toc_tx, toc_rx) = oneshot::channel();
    let (go_tx, go_rx) = std_mpsc::channel();
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let walker = Splitter::new(
        file,
        Handshake {
            toc: toc_tx,
            go: go_rx,
        },
    );
    let thread = stream::spawn(rx, decoding, Output::Split(Box::new(walker)))?;
    let mut pump = Tasks(vec![tokio::spawn(download.pump(tx))]);
    let mut report = thread.report;
    let mut stop = shutdown.clone();
    tracing::info!(key = %p.manifest.key, side = %names.side,
        "downloading; the schema and the rows go into the side database as they arrive");

    // The TOC: the schema before the data.
    let toc: Toc = tokio::select! {
        t = toc_rx => match t {
            Ok(t) => t,
            // The stream ended before a TOC: its report says why.
            Err(_) => return Err(stream_failure(
                (&mut report).await.ok(), &mut pump, &mut []).await.into()),
        },
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig).into()),
    };
    let tables =
        Arc::new(Tables::from_toc(&toc).map_err(|why| Failure::from(split::unsupported(&why)))?);
    tool.run(&archive.path, &["--section=pre-data".to_string()], false)
        .await?;
    tracing::info!("schema created in the side database; loading the rows");
    let n = usize::try_from(p.parallelism).unwrap_or(2).max(1);
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    let (senders, tasks) = load::start(&side_db, Arc::clone(&tables), n, &ended_tx).await?;
    drop(ended_tx);
    let mut loaders = Tasks(tasks);
    // A stream thread that is gone has sent its report: it says why.
    let _ = go_tx.send(Go::Load(senders));

    // While the rows load: the whole object's size and SHA-256, and the indexes and
    // constraints of the tables already in (built by one `pg_restore` at a time).
    let early = EarlyPlan::new(&toc);
    let mut ends = vec![0usize; tables.copy.len()];
    let mut tables_in = vec![false; tables.copy.len()];
    let mut done: HashSet<i64> = HashSet::new();
    let mut running: Option<(Vec<i64>, Running<'_>)> = None;
    let rep = loop {
        if running.is_none() {
            let ready = early.ready(&tables_in, &done);
            if !ready.is_empty() {
                tracing::info!(
                    entries = ready.len(),
                    "building the indexes and constraints of the tables already loaded"
                );
                let run = Box::pin(tool.run_list(&archive.path, p.spool_dir, ready.clone(), false));
                running = Some((ready, run));
            }
        }
        tokio::select! {
            r = &mut report => break r.map_err(|_| Error::Internal("the stream thread vanished".into()))?,
            Some(t) = ended_rx.recv() => {
                if let Some(c) = ends.get_mut(t) {
                    *c += 1;
                    if *c == n {
                        tables_in[t] = true;
                    }
                }
            }
            r = finished(&mut running), if running.is_some() => {
                let ids = r?;
                done.extend(ids);
            }
            sig = stop.wait() => return Err(Error::RestoreInterrupted(sig).into()),
        }
    };
    if !rep.complete || rep.error.is_some() {
        return Err(stream_failure(Some(rep), &mut pump, &mut loaders.0)
            .await
            .into());
    }
    check_object(p.manifest, &rep.hashed)?;
    tracing::info!(sha256 = %rep.hashed.sha256, raw = rep.hashed.raw_bytes,
        "SHA-256 matches the manifest; waiting for the last rows");
    let mut loaded = Vec::with_capacity(n);
    for t in &mut loaders.0 {
        loaded.push(tokio::select! {
            r = t => r.map_err(|e| Error::Internal(format!("a loading connection panicked: {e}")))??,
            sig = stop.wait() => return Err(Error::RestoreInterrupted(sig).into()),
        });
    }
    // The rows the server acknowledged at the end of each COPY, per table.
    let actual = load::row_counts(&tables, &loaded);
    tracing::info!(
        rows = actual.values().sum::<i64>(),
        connections = n,
        "every row is in the side database"
    );
    if running.is_some() {
        tokio::select! {
            r = finished(&mut running) => done.extend(r?),
            sig = stop.wait() => return Err(Error::RestoreInterrupted(sig).into()),
        }
    }

    // The rest of the data (sequence values, large objects), then the indexes and
    // constraints not built yet.
    let rest: Vec<i64> = toc
        .entries
        .iter()
        .filter(|e| e.section == SECTION_DATA && !e.is_table_data())
        .map(|e| e.dump_id)
        .collect();
    if !rest.is_empty() {
        tool.run_list(&archive.path, p.spool_dir, rest, false)
            .await?;
    }
    if done.is_empty() {
        tool.run(&archive.path, &["--section=post-data".to_string()], true)
            .await?;
    } else {
        tracing::info!(
            early = done.len(),
            of = early.len(),
            "indexes and constraints built while loading; building the rest"
        );
        let list = early::remaining(&toc, &done);
        tool.run_list(&archive.path, p.spool_dir, list, true)
            .await?;
    }
    tracing::info!("indexes and constraints built in the side database");

    let comparison = compare::compare(&p.manifest.tables, &actual, &p.plan.compared);
    if let Some(e) = compare::mismatch_error(&comparison) {
        let database = p.db.database();
        let r = result::build(result::Facts {
            manifest: p.manifest,
            target_database: &database,
            database_created: false,
            content: p.content.report_name(),
            tables_restored: p.plan.restored.len(),
            comparison,
            duration_ms: 0,
        });
        return Err(Failure::with(e, Payload::Restore(r)));
    }
    Ok(comparison)
}

/// Why the stream stopped: a loading connection's own error first (the stream only saw
/// that it stopped), then a decoder's or the hash's finding, then the download's.
async fn stream_failure(
    report: Option<StreamReport>,
    pump: &mut Tasks<crate::error::Result<u64>>,
    loaders: &mut [tokio::task::JoinHandle<crate::error::Result<load::Loaded>>],
) -> Error {
    for t in loaders.iter_mut() {
        if t.is_finished()
            && let Ok(Err(e)) = t.await
        {
            return e;
        }
    }
    let Some(report) = report else {
        return Error::Internal("the stream thread vanished".into());
    };
    let error = report
        .error
        .unwrap_or_else(|| Error::Internal("the stream stopped without a reason".into()));
    // A configuration or integrity problem found by the decoders is the cause; the
    // download's own error explains only a stream that stopped receiving.
    if error.kind() == ErrorKind::Runtime
        && matches!(
            error,
            Error::Stream {
                context: "downloading the object",
                ..
            }
        )
        && let Some(t) = pump.0.first_mut()
        && let Ok(Ok(Err(e))) = tokio::time::timeout(std::time::Duration::from_millis(500), t).await
    {
        return e;
    }
    error
}

/// A `pg_restore` run of some entries, in flight.
type Running<'a> = Pin<Box<dyn Future<Output = std::result::Result<Vec<i64>, Failure>> + 'a>>;

/// Waits for the run in flight (if any; never ready without one) and clears it.
async fn finished(
    running: &mut Option<(Vec<i64>, Running<'_>)>,
) -> std::result::Result<Vec<i64>, Failure> {
    let Some((_, run)) = running.as_mut() else {
        return std::future::pending().await;
    };
    let r = run.as_mut().await;
    running.take();
    r
}

/// `pg_restore` against the side database.
struct PgRestore<'a> {
    binary: PathBuf,
    db: &'a DbTarget,
    args: &'a [String],
    jobs: u32,
    shutdown: &'a Shutdown,
}

impl PgRestore<'_> {
    /// Runs it on `file` for the entries `ids` only (a list file in `dir`; with the
    /// post-data section filter when `parallel`, as the last run); returns the ids.
    async fn run_list(
        &self,
        file: &Path,
        dir: &Path,
        ids: Vec<i64>,
        parallel: bool,
    ) -> std::result::Result<Vec<i64>, Failure> {
        let (list, mut out) = SideArchive::create(dir)?;
        let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
        std::io::Write::write_all(&mut out, text.as_bytes())
            .map_err(|e| Error::stream("writing the restore list", e))?;
        drop(out);
        let mut extra = vec![format!("--use-list={}", list.path.display())];
        if parallel {
            extra.push("--section=post-data".into());
        }
        self.run(file, &extra, parallel).await?;
        Ok(ids)
    }

    /// Runs it on `file` with `extra` arguments, with `--jobs` when `parallel`.
    async fn run(
        &self,
        file: &Path,
        extra: &[String],
        parallel: bool,
    ) -> std::result::Result<(), Failure> {
        let mut args: Vec<String> = self.args.to_vec();
        if parallel {
            args.push(format!("--jobs={}", self.jobs));
        }
        args.extend(extra.iter().cloned());
        args.push("--dbname=".into());
        args.push(file.display().to_string());
        let mut env = self.db.child_env();
        let existing = env
            .iter()
            .find(|(k, _)| *k == "PGOPTIONS")
            .map(|(_, v)| v.clone());
        env.retain(|(k, _)| *k != "PGOPTIONS");
        let jobs = if parallel { self.jobs } else { 1 };
        env.push(("PGOPTIONS", session::pgoptions(existing.as_deref(), jobs)));
        let Started { process, .. } = ToolProcess::spawn(&ToolSpec {
            tool: Tool::PgRestore,
            binary: self.binary.clone(),
            args: args.clone(),
            env,
            stdin: false,
            capture_stdout: false,
        })?;
        tracing::info!(?args, "pg_restore started on the side database");
        let mut stop = self.shutdown.clone();
        tokio::select! {
            r = process.wait_success() => Ok(r?),
            sig = stop.wait() => {
                process.kill();
                Err(Error::RestoreInterrupted(sig).into())
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::restore::plan::{Request, plan};

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "formatVersion": 1, "policyNamespace": "n", "policyName": "p", "key": "k",
            "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:00Z",
            "storedSize": 1, "rawSize": 1, "sha256": "ab", "dumpFormat": "custom",
            "compression": "zstd", "serverVersion": "15", "serverVersionNum": 150000,
            "pgDumpVersion": "x", "database": "d", "rowCountMode": "exact", "runnerVersion": "0"
        }))
        .unwrap()
    }

    fn request(content: RestoreContent) -> Request {
        Request {
            content,
            tables: Vec::new(),
            clean: true,
            truncate: false,
            no_owner: true,
            no_privileges: false,
        }
    }

    #[test]
    fn full_custom_restores_with_parallelism_take_the_parallel_path() {
        let m = manifest();
        let full = plan(&m, &request(RestoreContent::Full)).unwrap();
        let args = applies(&full, RestoreContent::Full, 4).unwrap();
        assert!(args.contains(&"--no-owner".to_string()));
        for gone in [
            "--single-transaction",
            "--clean",
            "--if-exists",
            "--dbname=",
        ] {
            assert!(!args.contains(&gone.to_string()), "{gone} in {args:?}");
        }
        assert!(applies(&full, RestoreContent::Full, 1).is_none());
        let data = plan(&m, &request(RestoreContent::DataOnly)).unwrap();
        assert!(applies(&data, RestoreContent::DataOnly, 4).is_none());
    }
}
