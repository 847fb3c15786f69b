//! The parallel restore path (full restores of custom-format backups with a parallelism
//! of 2 or more): download, verify and decode into a local spool file ([`spool`]), build
//! the restore with `pg_restore -j N` in a side database ([`side`], [`names`]), compare its
//! row counts with the manifest, then swap it into the target's place by renaming. The
//! target is never written: any failure before the swap drops the side database and
//! leaves the target as it was. See `docs/runner-restore.md`.

pub mod names;
pub mod session;
pub mod side;
pub mod spool;

use std::path::{Path, PathBuf};
use std::time::Instant;

use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::contract::result::RestoreResult;
use tidemark_crd::contract::values::RestoreContent;

use crate::error::Error;
use crate::outcome::{Failure, Payload};
use crate::pg::binary;
use crate::pg::child::{Started, Tool, ToolProcess, ToolSpec};
use crate::pg::connect::DbTarget;
use crate::restore::compare;
use crate::restore::parallel::names::Names;
use crate::restore::plan::{Plan, Route};
use crate::restore::result;
use crate::restore::stream::Decoding;
use crate::restore::target::Session;
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
    pub spool_dir: &'a Path,
    pub content: RestoreContent,
    /// The `pg_restore` arguments without the database and the file.
    pub pg_restore_args: Vec<String>,
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
    let mut out: Vec<String> = args
        .iter()
        .filter(|a| {
            !matches!(
                a.as_str(),
                "--single-transaction" | "--clean" | "--if-exists" | "--dbname="
            )
        })
        .cloned()
        .collect();
    out.push(format!("--jobs={parallelism}"));
    Some(out)
}

/// Runs the parallel restore; a failure says whether the target was changed (never,
/// before the swap).
pub async fn run(
    p: Parallel<'_>,
    decoding: Decoding,
    shutdown: &Shutdown,
) -> std::result::Result<RestoreResult, Failure> {
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
    // Nothing on the server changes until the whole object is verified.
    let spool = spool::fill(p.store, p.manifest, decoding, p.spool_dir, shutdown).await?;
    let target_exists = side::create(&maintenance, &names).await?;
    let built = build(&p, &names, &spool.path, server_version_num, shutdown).await;
    drop(spool);
    let comparison = match built {
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
    Ok(result::build(result::Facts {
        manifest: p.manifest,
        target_database: &target,
        database_created: !target_exists,
        content: p.content.report_name(),
        tables_restored: p.plan.restored.len(),
        comparison,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
    }))
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

/// `pg_restore -j N` into the side database, then its row counts against the manifest.
async fn build(
    p: &Parallel<'_>,
    names: &Names,
    file: &Path,
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
    let mut args = p.pg_restore_args.clone();
    args.push("--dbname=".into());
    args.push(file.display().to_string());
    let mut env = side_db.child_env();
    let existing = env
        .iter()
        .find(|(k, _)| *k == "PGOPTIONS")
        .map(|(_, v)| v.clone());
    env.retain(|(k, _)| *k != "PGOPTIONS");
    env.push(("PGOPTIONS", session::pgoptions(existing.as_deref())));
    let Started { process, .. } = ToolProcess::spawn(&ToolSpec {
        tool: Tool::PgRestore,
        binary,
        args: args.clone(),
        env,
        stdin: false,
        capture_stdout: false,
    })?;
    tracing::info!(?args, side = %names.side, "pg_restore started into the side database");
    let mut stop = shutdown.clone();
    tokio::select! {
        r = process.wait_success() => r?,
        sig = stop.wait() => {
            process.kill();
            return Err(Error::RestoreInterrupted(sig).into());
        }
    }
    let actual = Session::open(&side_db)
        .await?
        .row_counts(&p.plan.compared)
        .await?;
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
        assert!(args.contains(&"--jobs=4".to_string()));
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
