//! `restore --preflight`: connects to the target and reports what it holds (does the
//! database exist, how many user tables and objects), touching nothing. The operator
//! runs it before stopping any writer, so that a full restore without `mode.clean` into
//! a database that is not empty fails before anything changes.

use tidemark_crd::contract::result::PreflightResult;

use crate::error::Result;
use crate::outcome::{self, Payload};
use crate::pg::connect::{DbTarget, classify_error};
use crate::restore::settings::RestoreOptions;
use crate::restore::target::Session;

/// User tables (ordinary and partitioned) outside the system schemas.
const USER_TABLES: &str = "SELECT count(*) FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// Runs the preflight: a report, never a change.
pub async fn run(db: &DbTarget, options: &RestoreOptions) -> outcome::Outcome {
    Ok(Payload::Preflight(check(db, options).await?))
}

/// What the target holds. With `create_database`, a missing database is reported as
/// such (looked up through the maintenance database) instead of failing the connection.
pub async fn check(db: &DbTarget, options: &RestoreOptions) -> Result<PreflightResult> {
    let database = db.database();
    if options.create_database {
        let maintenance = Session::open(&db.with_database(&options.maintenance_database)).await?;
        if !maintenance.database_exists(&database).await? {
            tracing::info!(database = %database, "preflight: the target database does not exist yet");
            return Ok(PreflightResult {
                database,
                exists: false,
                user_tables: 0,
                user_objects: 0,
            });
        }
    }
    let session = Session::open(db).await?;
    let user_objects = session.user_objects().await?;
    let user_tables: i64 = session
        .client
        .query_one(USER_TABLES, &[])
        .await
        .map_err(|e| classify_error(&session.target, "counting user tables", e))?
        .get(0);
    tracing::info!(database = %database, user_tables, user_objects, "preflight: target checked");
    Ok(PreflightResult {
        database,
        exists: true,
        user_tables,
        user_objects,
    })
}
