//! Running one restore's data path: download → stream thread (hash, decrypt,
//! decompress) → tool(s), then the verdict: the held-back end is released only when the
//! whole object was received, its size and SHA-256 equal the manifest, the SQL route's
//! pg_restore succeeded, and the tool owning the transaction is still waiting for its
//! input. Anything else — a mismatch, a failed tool, a signal — kills the tools before
//! their input ends and ends their server sessions, so the transaction rolls back.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::contract::result::ErrorKind;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::pg::binary;
use crate::pg::child::{Started, Tool, ToolProcess, ToolSpec};
use crate::pg::connect::DbTarget;
use crate::restore::compare::check_object;
use crate::restore::forward;
use crate::restore::plan::Route;
use crate::restore::stream::{self, Decoding, Hashed, Output, StreamReport, Verdict};
use crate::restore::target::Session;
use crate::s3::download::{CHANNEL_CHUNKS, Download};
use crate::s3::store::{ObjectStore, Store};
use crate::signals::Shutdown;

/// Everything one restore run needs.
pub struct Job<'a> {
    pub store: &'a Store,
    pub manifest: &'a Manifest,
    pub route: &'a Route,
    pub decoding: Decoding,
    pub pg_bin_root: &'a Path,
    pub server_version_num: u32,
    /// The target database (connection settings for the tools).
    pub db: &'a DbTarget,
}

/// A committed restore.
#[derive(Debug)]
pub struct Executed {
    /// From the GetObject to the tool's successful exit (after its COMMIT).
    pub duration_ms: u64,
    pub hashed: Hashed,
}

/// The tools of one run.
struct Tools {
    /// The tool that owns the transaction (`pg_restore -d` or `psql`).
    owner: ToolProcess,
    /// `pg_restore -f -` on the SQL route.
    converter: Option<ToolProcess>,
    /// The SQL route's forwarding thread.
    forwarder: Option<tokio::sync::oneshot::Receiver<std::result::Result<(), String>>>,
}

impl Tools {
    fn kill(&self) {
        self.owner.kill();
        if let Some(c) = &self.converter {
            c.kill();
        }
    }
}

/// Opens the backup's object; its size must be the manifest's.
pub async fn open_object(
    store: &Store,
    manifest: &Manifest,
    shutdown: &Shutdown,
) -> Result<Download> {
    let mut stop = shutdown.clone();
    let download = tokio::select! {
        d = Download::open(store, &manifest.key) => d?,
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
    };
    if download.size != manifest.stored_size {
        return Err(Error::Check {
            reason: "SizeMismatch",
            message: format!(
                "backup {} has {} bytes, its manifest says {}; nothing was restored",
                manifest.key, download.size, manifest.stored_size
            ),
        });
    }
    Ok(download)
}

/// Runs the restore; on failure the target is left as it was.
pub async fn execute(job: Job<'_>, shutdown: &Shutdown) -> Result<Executed> {
    let clock = Instant::now();
    let manifest = job.manifest;
    let download = open_object(job.store, manifest, shutdown).await?;
    let app = format!("tidemark-restore-{}", crate::restore::token());
    let (verdict_tx, verdict_rx) = std_mpsc::channel();
    let (output, tools) = start_tools(&job, &app, verdict_rx)?;
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let thread = stream::spawn(rx, job.decoding, output)?;
    let mut pump = tokio::spawn(download.pump(tx));
    tracing::info!(key = %manifest.key, size = manifest.stored_size, "restore stream started");

    let result = drive(
        manifest,
        &tools,
        thread.report,
        &mut pump,
        verdict_tx,
        shutdown,
    )
    .await;
    match result {
        Ok(hashed) => {
            if let Some(fwd) = tools.forwarder {
                let _ = fwd.await;
            }
            let _ = thread.done.await;
            Ok(Executed {
                duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
                hashed,
            })
        }
        Err(e) => {
            // verdict_tx is gone (moved into drive): the threads abort and kill.
            tools.kill();
            pump.abort();
            let e = explain_tool_failure(job.store.as_ref(), manifest, e, shutdown).await;
            match Session::open(job.db).await {
                Ok(s) => s.end_sessions(&app).await,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot connect to end the restore's session")
                }
            }
            Err(e)
        }
    }
}

/// A restore tool that failed before the object was hashed to its end may have failed
/// because the object is corrupt: hash the object (a second download) and report a
/// differing object as the cause, a check failure, instead of a tool failure that
/// retrying could fix. Nothing was committed either way: the end was never released.
async fn explain_tool_failure(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    error: Error,
    shutdown: &Shutdown,
) -> Error {
    if !matches!(error, Error::Restore { .. }) {
        return error;
    }
    match crate::verify::sha256_of(store, &manifest.key, shutdown).await {
        Ok(d) if d.sha256 != manifest.sha256 || d.bytes != manifest.stored_size => Error::Check {
            reason: "ChecksumMismatch",
            message: format!(
                "SHA-256 of backup {} is {} ({} bytes), its manifest says {} ({} bytes); \
                 the restore tool failed on it and nothing was committed ({error})",
                manifest.key, d.sha256, d.bytes, manifest.sha256, manifest.stored_size
            ),
        },
        Ok(_) => error,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hash the object to explain the tool's failure");
            error
        }
    }
}

/// Starts the tools of the route and returns the stream thread's output.
fn start_tools(
    job: &Job<'_>,
    app: &str,
    verdict: std_mpsc::Receiver<Verdict>,
) -> Result<(Output, Tools)> {
    let min_major = crate::restore::versions::archive_major(job.manifest);
    let locate = |tool: Tool| {
        binary::locate(
            job.pg_bin_root,
            job.server_version_num,
            min_major,
            tool.name(),
        )
    };
    let missing = |tool: Tool| Error::Internal(format!("{} stdin missing", tool.name()));
    match job.route {
        Route::PgRestore { args } | Route::Psql { args } => {
            let tool = if matches!(job.route, Route::PgRestore { .. }) {
                Tool::PgRestore
            } else {
                Tool::Psql
            };
            let name = tool.name();
            let Started { process, stdin, .. } = ToolProcess::spawn(&ToolSpec {
                tool,
                binary: locate(tool)?,
                args: args.clone(),
                env: tool_env(job.db, app, "warning"),
                stdin: true,
                capture_stdout: false,
            })?;
            let stdin = stdin.ok_or_else(|| missing(tool))?;
            tracing::info!(tool = name, ?args, "restore tool started");
            let plain = matches!(job.route, Route::Psql { .. });
            Ok((
                Output::Gated {
                    stdin,
                    verdict,
                    plain,
                },
                Tools {
                    owner: process,
                    converter: None,
                    forwarder: None,
                },
            ))
        }
        Route::ViaSql {
            pg_restore_args,
            psql_args,
            prefix,
            suffix,
        } => {
            let psql = ToolProcess::spawn(&ToolSpec {
                tool: Tool::Psql,
                binary: locate(Tool::Psql)?,
                args: psql_args.clone(),
                // pg_restore's own BEGIN/COMMIT inside psql's transaction only warn.
                env: tool_env(job.db, app, "error"),
                stdin: true,
                capture_stdout: false,
            })?;
            let converter = ToolProcess::spawn(&ToolSpec {
                tool: Tool::PgRestore,
                binary: locate(Tool::PgRestore)?,
                args: pg_restore_args.clone(),
                // Writes SQL only: no connection, no credentials.
                env: Vec::new(),
                stdin: true,
                capture_stdout: true,
            })?;
            let Some(sql) = converter.stdout else {
                return Err(Error::Internal("pg_restore stdout missing".into()));
            };
            let psql_stdin = psql.stdin.ok_or_else(|| missing(Tool::Psql))?;
            let converter_stdin = converter.stdin.ok_or_else(|| missing(Tool::PgRestore))?;
            let forwarder =
                forward::spawn(sql, psql_stdin, prefix.clone(), suffix.clone(), verdict)?;
            tracing::info!(
                ?pg_restore_args,
                "restore tools started (pg_restore -f - | psql)"
            );
            Ok((
                Output::Feed(converter_stdin),
                Tools {
                    owner: psql.process,
                    converter: Some(converter.process),
                    forwarder: Some(forwarder),
                },
            ))
        }
    }
}

/// libpq environment of the tool owning the transaction: the target's settings, a
/// unique application name (to find its session), and quiet notices.
fn tool_env(db: &DbTarget, app: &str, min_messages: &str) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = db
        .child_env()
        .into_iter()
        .filter(|(k, _)| *k != "PGAPPNAME")
        .collect();
    env.push(("PGAPPNAME", app.to_string()));
    env.push((
        "PGOPTIONS",
        format!("-c client_min_messages={min_messages}"),
    ));
    env
}

/// How long a failing part is given to report its own error.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// The error of a tool that ended before its input did.
async fn early_failure(tool: &ToolProcess, status: std::process::ExitStatus) -> Error {
    if status.success() {
        return Error::Internal(format!(
            "{} ended before the end of its input was released",
            tool.name
        ));
    }
    // Give the stderr thread a moment to collect the last lines.
    tokio::time::sleep(SETTLE / 10).await;
    tool.failure(status)
}

/// Resolves when the SQL route's pg_restore fails (never on the direct route).
async fn early_exit_converter(tools: &Tools) -> Error {
    let Some(c) = &tools.converter else {
        return std::future::pending().await;
    };
    match c.wait().await {
        Ok(status) if status.success() => std::future::pending().await,
        Ok(status) => early_failure(c, status).await,
        Err(e) => e,
    }
}

/// Waits for the stream, decides the verdict, waits for the commit.
async fn drive(
    manifest: &Manifest,
    tools: &Tools,
    report: tokio::sync::oneshot::Receiver<StreamReport>,
    pump: &mut tokio::task::JoinHandle<Result<u64>>,
    verdict: std_mpsc::Sender<Verdict>,
    shutdown: &Shutdown,
) -> Result<Hashed> {
    let mut stop = shutdown.clone();
    let owner = &tools.owner;
    let mut report = report;
    let vanished = |_| Error::Internal("the stream thread vanished".into());
    let report = tokio::select! {
        r = &mut report => r.map_err(vanished)?,
        // The tool owning the transaction ended before its input did: it failed (or the
        // gate did not hold — never reported as success) ...
        status = owner.wait() => {
            let status = status?;
            if status.signal().is_none() {
                return Err(early_failure(owner, status).await);
            }
            // ... or the stream thread killed it (a decoding failure): its report
            // has the cause. Killed by anyone else (OOM killer, a person), the stream
            // only saw a broken pipe: the signal is the cause.
            let r = tokio::select! {
                r = &mut report => r.map_err(vanished)?,
                sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
            };
            if !r.complete && matches!(r.error, Some(Error::Restore { tool: "restore", .. })) {
                return Err(owner.failure(status));
            }
            r
        }
        e = early_exit_converter(tools) => return Err(e),
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
    };
    if !report.complete {
        let error = report
            .error
            .unwrap_or_else(|| Error::Internal("the stream stopped without a reason".into()));
        // A configuration or integrity problem found by the stream is the cause.
        if error.kind() != ErrorKind::Runtime {
            return Err(error);
        }
        // A tool that failed on its own explains a broken pipe; so does one killed
        // from outside (the OOM killer): it stopped reading because it was gone.
        tokio::time::sleep(SETTLE / 10).await;
        let stopped_reading = matches!(
            error,
            Error::Restore {
                tool: "restore",
                ..
            }
        );
        if let Some(status) = owner
            .exited()
            .filter(|s| !s.success() && (s.signal().is_none() || stopped_reading))
        {
            return Err(owner.failure(status));
        }
        // The download's own error explains a stream that stopped receiving.
        if matches!(
            error,
            Error::Stream {
                context: "downloading the object",
                ..
            }
        ) && let Ok(Ok(Err(e))) = tokio::time::timeout(SETTLE, &mut *pump).await
        {
            return Err(e);
        }
        return Err(error);
    }
    // The whole object went through: a differing object is the root cause of anything.
    check_object(manifest, &report.hashed)?;
    if let Some(e) = report.error {
        return Err(e);
    }
    tracing::info!(sha256 = %report.hashed.sha256, bytes = report.hashed.stored_bytes,
        "SHA-256 matches the manifest");
    if let Some(converter) = &tools.converter {
        tokio::select! {
            r = converter.wait_success() => r?,
            sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
        }
    }
    if let Some(status) = owner.exited() {
        return Err(if status.success() {
            Error::Internal(format!(
                "{} ended before the end of its input was released",
                owner.name
            ))
        } else {
            owner.failure(status)
        });
    }
    verdict
        .send(Verdict::Release)
        .map_err(|_| Error::Internal("the stream thread vanished before the release".into()))?;
    tracing::info!(
        tool = owner.name,
        "end of stream released; waiting for the commit"
    );
    tokio::select! {
        r = owner.wait_success() => r?,
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
    }
    Ok(report.hashed)
}
