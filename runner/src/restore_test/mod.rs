//! `restore-test`: restore the newest (or selected) backup into a temporary database on
//! a scratch server and compare the row counts with the manifest; the measured duration
//! is the recovery time actually achieved.
//!
//! The scratch server is the libpq target (`PG*`): a freshly started empty server next
//! to the runner (`TIDEMARK_RESTORE_TEST_TARGET=ephemeral`, in Kubernetes a sidecar of
//! the same pod, waited for), or an existing server (`existing`). Either way the backup
//! goes into a new database `<prefix><random>` that is dropped afterwards — after a
//! success, a failure or a signal — so a restore test never touches existing data.
//! Ownership and privileges are not restored (`--no-owner --no-privileges`): a scratch
//! server does not have the source's roles.

pub mod scratch;

use tidemark_crd::contract::values::{RestoreContent, ScratchTarget};

use crate::error::Error;
use crate::inventory::{PolicyRef, Selector};
use crate::outcome::{self, Failure, Payload};
use crate::pg::connect::DbSettings;
use crate::pg::connect::DbTarget;
use crate::restore::plan::{self, Request};
use crate::restore::target::Session;
use crate::restore::{self, Restore, parallel, settings};
use crate::s3::settings::S3Settings;
use crate::signals::Shutdown;

/// Settings of `restore-test`: which backup, and the scratch server.
#[derive(Clone, Debug)]
pub struct Settings {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    /// The scratch server (its database is only used to connect for CREATE DATABASE).
    pub db: DbSettings,
    pub pg_bin_root: std::path::PathBuf,
    pub selector: Selector,
    /// Only backups of this database; unset: for a run of several databases, one
    /// database of the newest run by rotation ([`rotated_database`]).
    pub database: Option<String>,
    pub target: ScratchTarget,
    /// How long to wait for the server to accept connections.
    pub wait_for_server: Option<tidemark_crd::units::HumanDuration>,
    /// Prefix of the temporary database's name.
    pub scratch_database_prefix: String,
    /// 2 or more: the parallel path ([`restore::parallel`]).
    pub parallelism: u32,
    /// Where the parallel path's spool file goes.
    pub spool_dir: std::path::PathBuf,
}

/// The database of a run of several that a restore test covers: each test restores one
/// (a bounded time), rotating through the run's databases by the day of the test, so
/// consecutive daily tests cover each database in turn. `None` for a single database.
pub fn rotated_database(
    databases: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    if databases.len() < 2 {
        return None;
    }
    let day = usize::try_from(now.timestamp().div_euclid(86_400)).unwrap_or(0);
    databases.get(day % databases.len()).cloned()
}

/// Runs one restore test.
pub async fn run(args: &Settings, shutdown: &Shutdown) -> outcome::Outcome {
    let identities = settings::identities_from_env()?;
    let server = DbTarget::resolve(&args.db)?;
    scratch::check_prefix(&args.scratch_database_prefix)?;
    let wait = scratch::wait_time(args.target, args.wait_for_server);
    let store = crate::s3::client::connect(&args.s3).await?;
    let database = match &args.database {
        Some(d) => Some(d.clone()),
        None if args.selector == Selector::Latest => {
            let prefix = args.policy.prefix(&args.s3.prefix);
            let inventory = crate::inventory::Inventory::load(store.as_ref(), &prefix).await?;
            inventory
                .newest()
                .and_then(|e| e.manifest.run.as_ref())
                .and_then(|run| rotated_database(&run.databases, chrono::Utc::now()))
        }
        None => None,
    };
    let manifest = restore::select(
        store.as_ref(),
        &args.s3,
        &args.policy,
        &args.selector,
        database.as_deref(),
        shutdown,
    )
    .await?;
    tracing::info!(key = %manifest.key, "backup selected for the restore test");
    let request = Request {
        content: RestoreContent::Full,
        tables: Vec::new(),
        clean: false,
        truncate: false,
        no_owner: true,
        no_privileges: true,
    };
    let plan = plan::plan(&manifest, &request)?;
    let decoding = settings::decoding(&manifest, &identities)?;

    scratch::wait_for_server(&server, wait, shutdown).await?;
    let name = format!("{}{}", args.scratch_database_prefix, restore::token());
    let scratch_db = server.with_database(&name);
    let restored = if let Some(pg_restore_args) =
        parallel::applies(&plan, RestoreContent::Full, args.parallelism)
    {
        // Built in a side database and renamed to the scratch name (created by the swap).
        let maintenance = server.database();
        parallel::run(
            parallel::Parallel {
                store: &store,
                manifest: &manifest,
                plan: &plan,
                pg_bin_root: &args.pg_bin_root,
                db: &scratch_db,
                maintenance_database: &maintenance,
                create_database: true,
                spool_dir: &args.spool_dir,
                content: RestoreContent::Full,
                parallelism: args.parallelism,
                pg_restore_args,
                globals: None,
            },
            decoding,
            shutdown,
        )
        .await
        .map(|(r, _)| r)
    } else {
        Session::open(&server).await?.create_database(&name).await?;
        tracing::info!(database = %name, server = %server.describe(), "scratch database created");
        restore::restore_and_compare(
            Restore {
                store: &store,
                manifest: &manifest,
                plan: &plan,
                decoding,
                pg_bin_root: &args.pg_bin_root,
                db: &scratch_db,
                content: RestoreContent::Full,
                database_created: true,
            },
            shutdown,
        )
        .await
    };
    // Always, whatever happened (the signal, if any, has already stopped the restore).
    let dropped = scratch::drop_database(&server, &name).await;
    let outcome = match restored {
        Ok(r) => Ok(Payload::RestoreTest(r)),
        Err(Failure { error, partial }) => Err(Failure {
            error,
            partial: partial.map(as_restore_test),
        }),
    };
    match (outcome, dropped) {
        (outcome, Ok(())) => outcome,
        (Ok(payload), Err(e)) => Err(Failure::with(
            Error::Internal(format!("the restore test passed, but {e}")),
            payload,
        )),
        (Err(f), Err(e)) => {
            tracing::error!(error = %e, "dropping the scratch database failed");
            Err(f)
        }
    }
}

fn as_restore_test(p: Payload) -> Payload {
    match p {
        Payload::Restore(r) => Payload::RestoreTest(r),
        other => other,
    }
}
