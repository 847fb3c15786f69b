//! PostgreSQL majors on both sides of a restore, checked before anything changes: a dump
//! restores into a server of the same or a newer major (never older), and the client
//! tools that will run must be new enough for both the target server and the archive.

use std::path::Path;

use tidemark_crd::contract::manifest::Manifest;

use crate::error::{Error, Result};
use crate::pg::binary;
use crate::pg::connect::DbTarget;
use crate::restore::plan::Route;
use crate::restore::target::Session;

/// Refuses a backup of a newer major than the target server.
pub fn compatible(manifest: &Manifest, target_version_num: u32) -> Result<()> {
    let backup_major = manifest.server_version_num / 10_000;
    let target_major = target_version_num / 10_000;
    if backup_major > target_major {
        return Err(Error::TargetServerTooOld {
            key: manifest.key.clone(),
            backup_major,
            target_major,
        });
    }
    Ok(())
}

/// The lowest major a restore tool may have for this archive: the major of the
/// `pg_dump` that wrote it (an older `pg_restore` cannot read a newer archive).
pub fn archive_major(manifest: &Manifest) -> u32 {
    binary::major_of_version_line(&manifest.pg_dump_version)
        .unwrap_or(manifest.server_version_num / 10_000)
}

/// The tools a route runs.
pub fn tools(route: &Route) -> &'static [&'static str] {
    match route {
        Route::PgRestore { .. } => &["pg_restore"],
        Route::Psql { .. } => &["psql"],
        Route::ViaSql { .. } => &["pg_restore", "psql"],
    }
}

/// Connects to the target server (through `maintenance`, the target database may not
/// exist yet), refuses an incompatible major and makes sure every tool of the route is
/// installed — before anything changes. The tools are located again, by the same rule,
/// when they start (`execute`), which the restore test reaches without this check.
pub async fn check(
    db: &DbTarget,
    maintenance: &str,
    manifest: &Manifest,
    route: &Route,
    pg_bin_root: &Path,
) -> Result<()> {
    let version = Session::open(&db.with_database(maintenance))
        .await?
        .server_version_num()
        .await?;
    compatible(manifest, version)?;
    let min = archive_major(manifest);
    let located = tools(route)
        .iter()
        .map(|tool| binary::locate(pg_bin_root, version, min, tool))
        .collect::<Result<Vec<_>>>()?;
    tracing::info!(
        backup_server = manifest.server_version_num,
        target_server = version,
        tools = ?located,
        "PostgreSQL majors checked"
    );
    Ok(())
}
