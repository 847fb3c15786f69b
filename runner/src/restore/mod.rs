//! `restore`: select a backup from the policy's inventory (manifests only), prepare the
//! target (create the database, refuse a non-empty one that nothing would clean), stream
//! it into `pg_restore`/`psql` in one transaction behind the checksum gate, then compare
//! the restored tables' row counts with the manifest.
//!
//! Deciding lives in [`plan`], [`foreign_keys`], [`compare`], [`result`] and [`settings`]
//! (pure); doing in [`execute`], [`stream`], [`forward`] and [`target`].

pub mod all_databases;
pub mod all_summary;
pub mod compare;
pub mod execute;
pub mod foreign_keys;
pub mod forward;
pub mod gate;
pub mod parallel;
pub mod partitions;
pub mod plain_tx;
pub mod plan;
pub mod preflight;
pub mod result;
pub mod roles;
pub mod settings;
pub mod stream;
pub mod target;
pub mod versions;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::contract::result::RestoreResult;

use crate::error::{Error, Result};
use crate::inventory::{Inventory, PolicyRef, Selector};
use crate::outcome::{self, Failure, Payload};
use crate::pg::connect::DbTarget;
use crate::restore::compare::Comparison;
use crate::restore::plan::Plan;
use crate::restore::settings::{RestoreOptions, Settings};
use crate::restore::stream::Decoding;
use crate::restore::target::Session;
use crate::s3::settings::S3Settings;
use crate::s3::store::{ObjectStore, Store};
use crate::signals::Shutdown;
use tidemark_crd::contract::values::RestoreContent;

/// Runs one restore.
pub async fn run(args: &Settings, shutdown: &Shutdown) -> outcome::Outcome {
    if args.preflight {
        return preflight::run(&DbTarget::resolve(&args.db)?, &args.options).await;
    }
    if args.all_databases {
        return all_databases::run(args, shutdown).await;
    }
    run_into(args, DbTarget::resolve(&args.db)?, shutdown).await
}

/// Runs one restore into `db` (the resolved target; [`all_databases`] passes each
/// database of a run).
pub async fn run_into(args: &Settings, db: DbTarget, shutdown: &Shutdown) -> outcome::Outcome {
    let request = settings::request(&args.options)?;
    let identities = settings::identities_from_env()?;
    let selector = &args.selector;
    let store = crate::s3::client::connect(&args.s3).await?;
    let manifest = select(
        store.as_ref(),
        &args.s3,
        &args.policy,
        &args.selector,
        args.database.as_deref(),
        shutdown,
    )
    .await?;
    tracing::info!(key = %manifest.key, selector = %selector, "backup selected");
    let plan = plan::plan(&manifest, &request)?;
    let decoding = settings::decoding(&manifest, &identities)?;
    let content = request.content.report_name();
    let database = db.database();
    let partial = |created: bool| {
        Payload::Restore(result::build(result::Facts {
            manifest: &manifest,
            target_database: &database,
            database_created: created,
            content,
            tables_restored: 0,
            comparison: Comparison::default(),
            duration_ms: 0,
        }))
    };

    versions::check(
        &db,
        &args.options.maintenance_database,
        &manifest,
        &plan.route,
        &args.pg_bin_root,
    )
    .await
    .map_err(|e| Failure::with(e, partial(false)))?;
    // Roles and database settings: decided before anything changes, the missing roles
    // (if allowed) created just before the database.
    let decided = match &manifest.globals {
        None => None,
        Some(_) => {
            let on = if args.options.create_database {
                db.with_database(&args.options.maintenance_database)
            } else {
                db.clone()
            };
            let decided = async {
                let session = Session::open(&on).await?;
                let decided = roles::decide(
                    store.as_ref(),
                    &manifest,
                    &decoding.identities,
                    &session,
                    &args.options,
                )
                .await?;
                let created = roles::create_roles(&session, &decided.roles).await?;
                Ok::<_, Error>((decided, created))
            }
            .await
            .map_err(|e| Failure::with(e, partial(false)))?;
            Some(decided)
        }
    };
    let roles_created = decided.as_ref().map(|(_, c)| c.clone()).unwrap_or_default();
    let globals = decided.as_ref().and_then(|(d, _)| d.globals.as_ref());
    let with_roles = |p: Payload, settings: bool| match p {
        Payload::Restore(mut r) => {
            r.roles_created = roles_created.clone();
            r.database_settings_restored = settings;
            Payload::Restore(r)
        }
        other => other,
    };
    let parallel_args = match parallel::applies(&plan, request.content, args.options.parallelism) {
        Some(a) => parallel::usable(&db, &args.options.maintenance_database)
            .await
            .then_some(a),
        None => None,
    };
    if let Some(pg_restore_args) = parallel_args {
        let p = parallel::Parallel {
            store: &store,
            manifest: &manifest,
            plan: &plan,
            pg_bin_root: &args.pg_bin_root,
            db: &db,
            maintenance_database: &args.options.maintenance_database,
            create_database: args.options.create_database,
            spool_dir: &args.options.spool_dir,
            content: request.content,
            parallelism: args.options.parallelism,
            pg_restore_args,
            globals,
        };
        return parallel::run(p, decoding, shutdown)
            .await
            .map(|(r, settings)| with_roles(Payload::Restore(r), settings))
            .map_err(|f| Failure {
                partial: Some(with_roles(
                    f.partial.unwrap_or_else(|| partial(false)),
                    false,
                )),
                error: f.error,
            });
    }
    let (created, settings_restored) = prepare_target(&db, &args.options, &plan, globals)
        .await
        .map_err(|e| Failure::with(e, with_roles(partial(false), false)))?;
    let restored = restore_and_compare(
        Restore {
            store: &store,
            manifest: &manifest,
            plan: &plan,
            decoding,
            pg_bin_root: &args.pg_bin_root,
            db: &db,
            content: request.content,
            database_created: created,
        },
        shutdown,
    )
    .await;
    match restored {
        Ok(r) => Ok(with_roles(Payload::Restore(r), settings_restored)),
        Err(Failure { error, partial: p }) => {
            if created && !error_keeps_database(&error) {
                // Nothing was committed into it: leave the server as it was.
                drop_created(&db, &args.options.maintenance_database, &database).await;
            }
            let kept = created && error_keeps_database(&error);
            Err(Failure {
                error,
                partial: Some(with_roles(
                    p.unwrap_or_else(|| partial(created)),
                    settings_restored && kept,
                )),
            })
        }
    }
}

/// Whether a failed restore keeps the database it created (its data was committed).
fn error_keeps_database(error: &Error) -> bool {
    matches!(
        error,
        Error::Check {
            reason: "RowCountMismatch",
            ..
        }
    )
}

/// The backup the selector chooses among the policy's manifests (of `database` only,
/// when given; see [`Inventory::select_in`]).
pub async fn select(
    store: &dyn ObjectStore,
    s3: &S3Settings,
    policy: &PolicyRef,
    selector: &Selector,
    database: Option<&str>,
    shutdown: &Shutdown,
) -> Result<Manifest> {
    let prefix = policy.prefix(&s3.prefix);
    let mut stop = shutdown.clone();
    let inventory = tokio::select! {
        i = Inventory::load(store, &prefix) => i?,
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
    };
    Ok(inventory.select_in(selector, database)?.manifest)
}

/// Creates the database if asked and missing (like the source's, with its settings,
/// when the backup has globals: [`roles::create_database`]); refuses a non-empty target
/// that the restore would not clean. Returns whether the database was created and
/// whether the source's database settings were applied.
async fn prepare_target(
    db: &DbTarget,
    options: &RestoreOptions,
    plan: &Plan,
    globals: Option<&roles::Globals>,
) -> Result<(bool, bool)> {
    let name = db.database();
    let mut created = false;
    let mut settings = false;
    if options.create_database {
        let maintenance = Session::open(&db.with_database(&options.maintenance_database)).await?;
        if !maintenance.database_exists(&name).await? {
            settings = roles::create_database(&maintenance, &name, globals).await?;
            tracing::info!(database = %name, "target database created");
            created = true;
        }
    }
    if plan.needs_empty_target && !created {
        let objects = Session::open(db).await?.user_objects().await?;
        if objects > 0 {
            return Err(Error::config(format!(
                "refusing to restore into database {name}: it already holds {objects} \
                 objects and this restore would not drop them (a full restore with \
                 TIDEMARK_RESTORE_CLEAN=false, or a plain-format backup); enable clean, \
                 or restore into an empty or new database (TIDEMARK_CREATE_DATABASE)"
            )));
        }
    }
    Ok((created, settings))
}

async fn drop_created(db: &DbTarget, maintenance: &str, name: &str) {
    let dropped = async {
        Session::open(&db.with_database(maintenance))
            .await?
            .drop_database(name)
            .await
    }
    .await;
    match dropped {
        Ok(()) => tracing::info!(database = %name, "dropped the database this run created"),
        Err(e) => {
            tracing::warn!(database = %name, error = %e, "dropping the created database failed")
        }
    }
}

/// One restore into a prepared target.
pub struct Restore<'a> {
    pub store: &'a Store,
    pub manifest: &'a Manifest,
    pub plan: &'a Plan,
    pub decoding: Decoding,
    pub pg_bin_root: &'a Path,
    pub db: &'a DbTarget,
    pub content: RestoreContent,
    pub database_created: bool,
}

/// Streams the backup into the target and compares the row counts; a comparison with
/// mismatches is a [`Failure`] that still carries the result.
pub async fn restore_and_compare(
    r: Restore<'_>,
    shutdown: &Shutdown,
) -> std::result::Result<RestoreResult, Failure> {
    let session = Session::open(r.db).await?;
    let server_version_num = session.server_version_num().await?;
    let route = match &r.plan.foreign_keys {
        Some(scope) => {
            let keys = session.foreign_keys(scope, server_version_num).await?;
            if !keys.is_empty() {
                let names: Vec<String> = keys.iter().map(|k| k.describe()).collect();
                tracing::info!(constraints = ?names,
                    "foreign keys dropped before the data and added back (validated) after it");
            }
            foreign_keys::wrap(&r.plan.route, &keys)
        }
        None => r.plan.route.clone(),
    };
    // In place over partitioned tables: their inherited keys go first (same transaction).
    let route = if r.plan.cleans() {
        let tables: Vec<String> = r.manifest.tables.keys().cloned().collect();
        let drops = partitions::drops(
            &session.client,
            &session.target,
            server_version_num,
            &tables,
        )
        .await?;
        if !drops.is_empty() {
            tracing::info!(
                statements = drops.lines().count(),
                "partitioned tables in the target: their keys are dropped first, in the restore's transaction"
            );
        }
        partitions::with_drops(&route, &drops, plan::psql_args())
    } else {
        route
    };
    drop(session);
    let executed = execute::execute(
        execute::Job {
            store: r.store,
            manifest: r.manifest,
            route: &route,
            decoding: r.decoding,
            pg_bin_root: r.pg_bin_root,
            server_version_num,
            db: r.db,
        },
        shutdown,
    )
    .await?;
    tracing::info!(key = %r.manifest.key, duration_ms = executed.duration_ms,
        raw = executed.hashed.raw_bytes, "restore committed");
    let actual = Session::open(r.db)
        .await?
        .row_counts(&r.plan.compared)
        .await?;
    let comparison = compare::compare(&r.manifest.tables, &actual, &r.plan.compared);
    let mismatch = compare::mismatch_error(&comparison);
    let database = r.db.database();
    let result = result::build(result::Facts {
        manifest: r.manifest,
        target_database: &database,
        database_created: r.database_created,
        content: r.content.report_name(),
        tables_restored: r.plan.restored.len(),
        comparison,
        duration_ms: executed.duration_ms,
    });
    match mismatch {
        None => Ok(result),
        Some(e) => Err(Failure::with(e, Payload::Restore(result))),
    }
}

/// A short random-looking token for names (temporary databases, application names):
/// unique per process and call, not a secret.
pub fn token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    hex::encode(Sha256::digest(seed.as_bytes()))[..12].to_string()
}
