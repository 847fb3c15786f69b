//! `restore` with `TIDEMARK_RESTORE_ALL_DATABASES`: every database of the selected run,
//! each into the database of the same name on the target server.
//!
//! 1. The selector (`latest`, `before`, or any key of the run) chooses a backup; its run
//!    is restored. A run that lacks a database it meant to cover is refused.
//! 2. Every target is checked before any database is changed: it exists (or
//!    `TIDEMARK_CREATE_DATABASE` creates it), and it is empty when the restore would not
//!    clean it. One that is not restorable fails the run, naming every such database.
//! 3. Then one database after the other, each with the single-database path
//!    ([`super::run_into`]): its own transaction behind the checksum gate, or with
//!    `TIDEMARK_RESTORE_PARALLELISM` 2 or more its own side database swapped in once
//!    verified; its row counts compared. The first failure stops the run; the report says which databases were
//!    restored (committed), which failed (and why) and which were not started.

use tidemark_crd::contract::result::{
    DatabaseRestore, DatabaseRestoreOutcome, ErrorKind, RestoreResult,
};

use tidemark_crd::contract::values::RestoreContent;

use crate::error::{Error, Result};
use crate::inventory::{Entry, Inventory, Selector};
use crate::outcome::{self, Failure, Payload};
use crate::pg::connect::DbTarget;
use crate::restore::all_summary::{failure_message, interrupted_message, summarise};
use crate::restore::settings::{self, Settings};
use crate::restore::target::Session;
use crate::restore::{plan, roles, run_into};
use crate::s3::store::ObjectStore;
use crate::signals::Shutdown;

/// Reason of a run refused because a target cannot be restored into.
pub const TARGET_NOT_RESTORABLE: &str = "TargetNotRestorable";

/// The databases of the selected run, in the order the run backed them up.
struct SelectedRun {
    id: String,
    entries: Vec<Entry>,
    /// Object names relative to the policy prefix, beside `entries`.
    objects: Vec<String>,
}

/// Restores every database of the selected run.
pub async fn run(args: &Settings, shutdown: &Shutdown) -> outcome::Outcome {
    if args.database.is_some() {
        return Err(Error::config(
            "TIDEMARK_RESTORE_ALL_DATABASES restores every database of the run: do not also \
             name one (TIDEMARK_BACKUP_DATABASE)",
        )
        .into());
    }
    let request = settings::request(&args.options)?;
    if !request.tables.is_empty() {
        return Err(Error::config(
            "TIDEMARK_RESTORE_TABLES cannot be combined with TIDEMARK_RESTORE_ALL_DATABASES \
             (restore one database with TIDEMARK_BACKUP_DATABASE instead)",
        )
        .into());
    }
    let identities = settings::identities_from_env()?;
    let db = DbTarget::resolve(&args.db)?;
    let store = crate::s3::client::connect(&args.s3).await?;
    let prefix = args.policy.prefix(&args.s3.prefix);
    let mut stop = shutdown.clone();
    let inventory = tokio::select! {
        i = Inventory::load(store.as_ref(), &prefix) => i?,
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig).into()),
    };
    let selected = select_run(&inventory, &args.selector)?;
    let completed_at = selected
        .entries
        .iter()
        .map(|e| e.manifest.completed_at)
        .max()
        .unwrap_or_default();
    tracing::info!(run = %selected.id, databases = selected.entries.len(),
        selector = %args.selector, "run selected: every database is restored");

    let mut plans = Vec::with_capacity(selected.entries.len());
    for e in &selected.entries {
        plans.push(plan::plan(&e.manifest, &request)?);
        settings::decoding(&e.manifest, &identities)?;
    }
    let mut results: Vec<DatabaseRestore> = selected
        .entries
        .iter()
        .zip(&selected.objects)
        .map(|(e, object)| not_started(&e.manifest.database, object))
        .collect();

    let problems = check_targets(
        Checks {
            db: &db,
            args,
            store: store.as_ref(),
            identities: &identities,
        },
        &selected.entries,
        &plans,
    )
    .await?;
    if !problems.is_empty() {
        let message = format!(
            "nothing was changed: {} of the run's databases cannot be restored into: {}",
            problems.len(),
            problems.join("; ")
        );
        let error = Error::RunFailed {
            kind: ErrorKind::Config,
            reason: TARGET_NOT_RESTORABLE,
            message,
        };
        let summary = summarise(&selected.id, completed_at, &results);
        return Err(Failure::with(error, Payload::RestoreAll(summary)));
    }

    for (i, e) in selected.entries.iter().enumerate() {
        let name = e.manifest.database.clone();
        if let Some(sig) = shutdown.signalled() {
            let message = interrupted_message(&results, sig, &name);
            let error = Error::RunFailed {
                kind: ErrorKind::Runtime,
                reason: "Interrupted",
                message,
            };
            let summary = summarise(&selected.id, completed_at, &results);
            return Err(Failure::with(error, Payload::RestoreAll(summary)));
        }
        let one = Settings {
            selector: Selector::Key(e.key.clone()),
            database: Some(name.clone()),
            all_databases: false,
            ..args.clone()
        };
        tracing::info!(database = %name, key = %e.key, "restoring database {} of {}",
            i + 1, selected.entries.len());
        match run_into(&one, db.with_database(&name), shutdown).await {
            Ok(Payload::Restore(r)) => apply(&mut results[i], &r, DatabaseRestoreOutcome::Restored),
            Ok(_) => {
                return Err(
                    Error::Internal("a restore reported another command's result".into()).into(),
                );
            }
            Err(Failure { error, partial }) => {
                let mismatched = error.reason() == "RowCountMismatch";
                let outcome = if mismatched {
                    DatabaseRestoreOutcome::Mismatched
                } else {
                    DatabaseRestoreOutcome::Failed
                };
                match &partial {
                    Some(Payload::Restore(r)) => apply(&mut results[i], r, outcome),
                    _ => results[i].outcome = outcome,
                }
                if !mismatched {
                    // Rolled back; a database this run created for it was dropped again.
                    results[i].created = false;
                }
                results[i].reason = Some(error.reason().to_string());
                let message = failure_message(&results, &name, &error.to_string());
                let error = Error::RunFailed {
                    kind: error.kind(),
                    reason: error.reason(),
                    message,
                };
                let summary = summarise(&selected.id, completed_at, &results);
                return Err(Failure::with(error, Payload::RestoreAll(summary)));
            }
        }
    }
    Ok(Payload::RestoreAll(summarise(
        &selected.id,
        completed_at,
        &results,
    )))
}

/// The run of the backup `selector` chooses, every database in run order.
fn select_run(inventory: &Inventory, selector: &Selector) -> Result<SelectedRun> {
    let chosen = inventory.select(selector)?;
    let runs = inventory.runs();
    let Some(run) = runs
        .iter()
        .find(|r| r.entries.iter().any(|e| e.key == chosen.key))
    else {
        return Err(Error::Internal(format!(
            "backup {} is in no run of the inventory",
            chosen.key
        )));
    };
    let id = match &chosen.manifest.run {
        Some(r) => r.id.clone(),
        None => chosen.key.clone(),
    };
    if !run.missing.is_empty() {
        return Err(Error::Check {
            reason: "RunIncomplete",
            message: format!(
                "run {id} has no good backup of {} (failed or broken): nothing was restored; \
                 restore the other databases one by one (TIDEMARK_BACKUP_DATABASE) or choose \
                 an earlier complete run",
                run.missing.join(", ")
            ),
        });
    }
    let order: Vec<String> = match &chosen.manifest.run {
        Some(r) => r.databases.clone(),
        None => vec![chosen.manifest.database.clone()],
    };
    let mut entries: Vec<Entry> = run.entries.iter().map(|e| (*e).clone()).collect();
    entries.sort_by_key(|e| {
        order
            .iter()
            .position(|d| *d == e.manifest.database)
            .unwrap_or(usize::MAX)
    });
    let objects = entries
        .iter()
        .map(|e| {
            e.key
                .strip_prefix(inventory.prefix())
                .unwrap_or(&e.key)
                .to_string()
        })
        .collect();
    Ok(SelectedRun {
        id,
        entries,
        objects,
    })
}

/// What the target checks read: the server, the settings, and the backups' globals.
struct Checks<'a> {
    db: &'a DbTarget,
    args: &'a Settings,
    store: &'a dyn ObjectStore,
    identities: &'a [age::x25519::Identity],
}

/// Every target that cannot be restored into, described (empty when all can): the
/// database exists or may be created, is empty unless the restore cleans, and the server
/// has (or may create) the roles each database's objects need.
async fn check_targets(
    c: Checks<'_>,
    entries: &[Entry],
    plans: &[plan::Plan],
) -> Result<Vec<String>> {
    let (db, args) = (c.db, c.args);
    let options = &args.options;
    let maintenance = Session::open(&db.with_database(&options.maintenance_database)).await?;
    let mut problems = Vec::new();
    for (e, plan) in entries.iter().zip(plans) {
        let name = &e.manifest.database;
        // Roles are only decided here (created per database by the restore itself), so a
        // missing role that may not be created stops the run before any database changed.
        match roles::decide(c.store, &e.manifest, c.identities, &maintenance, options).await {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Config => {
                problems.push(format!("database {name}: {err}"));
            }
            Err(err) => return Err(err),
        }
        if !maintenance.database_exists(name).await? {
            if !options.create_database {
                problems.push(format!(
                    "database {name} does not exist on the target server (enable \
                     TIDEMARK_CREATE_DATABASE to create it)"
                ));
            } else if options.content == RestoreContent::DataOnly {
                problems.push(format!(
                    "database {name} does not exist on the target server, and a data-only \
                     restore needs its tables"
                ));
            }
            continue;
        }
        if plan.needs_empty_target {
            let objects = Session::open(&db.with_database(name))
                .await?
                .user_objects()
                .await?;
            if objects > 0 {
                problems.push(format!(
                    "database {name} already holds {objects} objects and this restore would \
                     not drop them (enable clean, or restore into a server where it is empty \
                     or missing)"
                ));
            }
        }
        tracing::info!(database = %name, "target checked");
    }
    Ok(problems)
}

fn not_started(database: &str, key: &str) -> DatabaseRestore {
    DatabaseRestore {
        database: database.to_string(),
        key: key.to_string(),
        outcome: DatabaseRestoreOutcome::NotStarted,
        created: false,
        tables_restored: 0,
        tables_compared: 0,
        mismatch_count: 0,
        duration_ms: 0,
        reason: None,
    }
}

fn apply(d: &mut DatabaseRestore, r: &RestoreResult, outcome: DatabaseRestoreOutcome) {
    d.outcome = outcome;
    d.created = r.database_created;
    d.tables_restored = r.tables_restored;
    d.tables_compared = r.tables_compared;
    d.mismatch_count = r.mismatch_count;
    d.duration_ms = r.duration_ms;
}
