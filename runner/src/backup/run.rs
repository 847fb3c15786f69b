//! One run of a policy: the connection's one database (a single-database policy, keys
//! and manifests unchanged), or several databases one after another, each in its own
//! snapshot with its own data object and manifest, all under the run's one timestamp
//! (`<ts>.<database>.<ext>`). A database that fails does not stop the others, and its
//! failure never touches their committed backups: the run then reports a partial
//! failure listing every database.

use tidemark_crd::contract::keys;
use tidemark_crd::contract::manifest::RunInfo;
use tidemark_crd::contract::result::{
    BackupResult, DatabaseBackup, ErrorKind, MAX_DATABASE_RESULTS,
};

use super::settings::{Databases, Settings, compression_tag, format_tag};
use super::{Slot, backup_database, claim_second};
use crate::error::{Error, Result};
use crate::outcome::{Failure, Outcome, Payload};
use crate::pg::connect::{DbTarget, classify_error};
use crate::s3::commit;
use crate::signals::Shutdown;

/// The database a run with `all` reads the server's database list from.
pub const DISCOVERY_DATABASE: &str = "postgres";

/// Runs `backup`: one database, or the run of several.
pub async fn run(settings: &Settings, shutdown: &Shutdown) -> Outcome {
    if settings.databases == Databases::Connection {
        return Ok(Payload::Backup(super::run(settings, shutdown).await?));
    }
    let listed = match &settings.databases {
        Databases::All { .. } => server_databases(&settings.db).await?,
        _ => Vec::new(),
    };
    let names = settings.databases.resolve(&listed);
    if names.is_empty() {
        return Err(Error::config(
            "the database selection leaves no database to back up (all excluded?)",
        )
        .into());
    }
    let store = crate::s3::client::connect(&settings.s3).await?;
    let ext = keys::extension(
        format_tag(settings.dump.format),
        compression_tag(settings.dump.compression),
        !settings.recipients.is_empty(),
    );
    let key_of = |t, name: &str| {
        keys::run_database_key(
            &settings.s3.prefix,
            &settings.policy.namespace,
            &settings.policy.name,
            t,
            name,
            &ext,
        )
    };
    let (started_at, claim) = claim_second(store.as_ref(), settings, |t| {
        let run_key = format!(
            "{}{}.run",
            settings.policy.prefix(&settings.s3.prefix),
            keys::run_id(t)
        );
        (run_key, names.iter().map(|n| key_of(t, n)).collect())
    })
    .await?;
    let run = RunInfo {
        id: keys::run_id(started_at),
        started_at,
        databases: names.clone(),
    };
    tracing::info!(run = %run.id, databases = names.len(), "run of several databases started");
    let mut outcomes: Vec<(String, Result<BackupResult>)> = Vec::new();
    for name in &names {
        if let Some(sig) = shutdown.signalled() {
            outcomes.push((name.clone(), Err(Error::Interrupted(sig))));
            continue;
        }
        let slot = Slot {
            started_at,
            key: key_of(started_at, name),
            run: run.clone(),
        };
        let db = settings.db.with_database(name);
        let result = backup_database(settings, &db, Some(&slot), shutdown).await;
        match &result {
            Ok(r) => {
                tracing::info!(run = %run.id, database = %name, key = %r.key, "database backed up")
            }
            Err(e) => tracing::warn!(run = %run.id, database = %name, error = %e,
                "database backup failed; the run goes on with the others"),
        }
        outcomes.push((name.clone(), result));
    }
    commit::release(store.as_ref(), &claim).await;
    let Summary { payload, error } = summarize(&run.id, outcomes);
    let payload = payload.map(Payload::Backup);
    match (payload, error) {
        (Some(p), None) => Ok(p),
        (Some(p), Some(e)) => Err(Failure::with(e, p)),
        (None, Some(e)) => Err(e.into()),
        (None, None) => Err(Error::Internal("a run without databases".into()).into()),
    }
}

/// What a run reports: the backup section (when a database succeeded) and the error
/// (when one failed).
#[derive(Debug)]
pub struct Summary {
    pub payload: Option<BackupResult>,
    pub error: Option<Error>,
}

/// The report of a run from each database's outcome (in run order). Pure.
pub fn summarize(run_id: &str, outcomes: Vec<(String, Result<BackupResult>)>) -> Summary {
    let total = outcomes.len();
    let mut rows = Vec::new();
    let mut last_good: Option<BackupResult> = None;
    let mut failed: Vec<(String, Error)> = Vec::new();
    for (name, outcome) in outcomes {
        match outcome {
            Ok(r) => {
                rows.push(DatabaseBackup {
                    database: name,
                    ok: true,
                    stored_size: Some(r.stored_size),
                    total_rows: Some(r.total_rows),
                    reason: None,
                });
                last_good = Some(r);
            }
            Err(e) => {
                rows.push(DatabaseBackup {
                    database: name.clone(),
                    ok: false,
                    stored_size: None,
                    total_rows: None,
                    reason: Some(e.reason().to_string()),
                });
                failed.push((name, e));
            }
        }
    }
    // Failures first, so a long run still reports each failed database.
    rows.sort_by_key(|r| r.ok);
    let omitted = rows.len().saturating_sub(MAX_DATABASE_RESULTS);
    rows.truncate(MAX_DATABASE_RESULTS);
    let payload = last_good.map(|mut r| {
        r.run_id = Some(run_id.to_string());
        r.databases = rows;
        r.databases_omitted = u32::try_from(omitted).unwrap_or(u32::MAX);
        r
    });
    if failed.is_empty() {
        return Summary {
            payload,
            error: None,
        };
    }
    // Retrying helps when one failure may be passing; otherwise the setting is wrong.
    let kind = if failed.iter().any(|(_, e)| e.kind() == ErrorKind::Runtime) {
        ErrorKind::Runtime
    } else {
        failed.first().map_or(ErrorKind::Runtime, |(_, e)| e.kind())
    };
    let good = total - failed.len();
    let listed: Vec<String> = failed
        .iter()
        .take(4)
        .map(|(name, e)| format!("{name}: {e}"))
        .collect();
    let more = match failed.len().saturating_sub(4) {
        0 => String::new(),
        n => format!("; {n} more"),
    };
    let reason = if good > 0 {
        "PartialBackup"
    } else {
        failed.first().map_or("BackupFailed", |(_, e)| e.reason())
    };
    let error = Error::RunFailed {
        kind,
        reason,
        message: format!(
            "run {run_id}: {} of {total} databases failed, {good} backed up (their backups stay): {}{more}",
            failed.len(),
            listed.join("; ")
        ),
    };
    Summary {
        payload,
        error: Some(error),
    }
}

/// The server's databases that a run with `all` may cover: not templates, accepting
/// connections, by name.
async fn server_databases(db: &DbTarget) -> Result<Vec<String>> {
    let target = db.with_database(DISCOVERY_DATABASE);
    let describe = target.describe();
    let client = target.connect().await?;
    let rows = client
        .query(
            "SELECT datname::text FROM pg_catalog.pg_database \
             WHERE NOT datistemplate AND datallowconn ORDER BY datname",
            &[],
        )
        .await
        .map_err(|e| classify_error(&describe, "listing the databases of", e))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn good(db: &str) -> Result<BackupResult> {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 5).unwrap();
        Ok(BackupResult {
            key: format!("b/ns/p/20261123T140005Z.{db}.dump.zst"),
            manifest_key: String::new(),
            stored_size: 10,
            raw_size: 30,
            sha256: "00".into(),
            total_rows: 7,
            table_count: 1,
            started_at: t,
            completed_at: t,
            duration_ms: 1,
            server_version: "17".into(),
            pg_dump_version: "17".into(),
            database: db.into(),
            run_id: None,
            databases: Vec::new(),
            databases_omitted: 0,
        })
    }

    fn refused() -> Result<BackupResult> {
        Err(Error::PostgresAuth {
            context: "connecting".into(),
            message: "database \"gone\" does not exist".into(),
        })
    }

    #[test]
    fn a_partial_run_reports_every_database_failures_first() {
        let s = summarize(
            "R",
            vec![
                ("a".into(), good("a")),
                ("gone".into(), refused()),
                ("b".into(), good("b")),
            ],
        );
        let p = s.payload.unwrap();
        assert_eq!(p.database, "b", "the last good database's object");
        assert_eq!(p.run_id.as_deref(), Some("R"));
        let order: Vec<(&str, bool)> = p
            .databases
            .iter()
            .map(|d| (d.database.as_str(), d.ok))
            .collect();
        assert_eq!(order, vec![("gone", false), ("a", true), ("b", true)]);
        assert_eq!(p.databases[0].reason.as_deref(), Some("PostgresRejected"));
        let e = s.error.unwrap();
        assert_eq!(e.reason(), "PartialBackup");
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("1 of 3 databases failed"), "{e}");
    }

    #[test]
    fn a_runtime_failure_makes_the_run_retryable_and_all_failed_keeps_the_first_reason() {
        let s = summarize(
            "R",
            vec![
                ("gone".into(), refused()),
                ("x".into(), Err(Error::PgDump("exit 1".into()))),
            ],
        );
        assert!(s.payload.is_none());
        let e = s.error.unwrap();
        assert_eq!(e.kind(), ErrorKind::Runtime);
        assert_eq!(e.reason(), "PostgresRejected");
    }

    #[test]
    fn long_runs_stay_bounded() {
        let outcomes = (0..40)
            .map(|i| {
                let db = format!("db{i}");
                let r = if i == 39 { refused() } else { good(&db) };
                (db, r)
            })
            .collect();
        let p = summarize("R", outcomes).payload.unwrap();
        assert_eq!(p.databases.len(), MAX_DATABASE_RESULTS);
        assert_eq!(p.databases_omitted, 40 - MAX_DATABASE_RESULTS as u32);
        assert!(!p.databases[0].ok, "the failure is listed");
        assert!(serde_json::to_vec(&p).unwrap().len() < 3000);
    }
}
