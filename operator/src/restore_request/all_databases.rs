//! `backup.allDatabases`: what the restore Job's report says about each database of the
//! run, recorded in status (`status.databases`, table totals) and put into words. Pure.

use tidemark_crd::contract::result::{AllDatabasesRestore, DatabaseRestoreOutcome};
use tidemark_crd::restore_request::RestoreRequestStatus;

/// Records the per-database outcomes and the table totals over the databases.
pub fn record(s: &mut RestoreRequestStatus, r: &AllDatabasesRestore) {
    s.databases.clone_from(&r.databases);
    let restored: i64 = r
        .databases
        .iter()
        .map(|d| i64::from(d.tables_restored))
        .sum();
    let compared: i64 = r
        .databases
        .iter()
        .map(|d| i64::from(d.tables_compared))
        .sum();
    s.tables_restored = i32::try_from(restored).ok();
    s.tables_compared = i32::try_from(compared).ok();
    s.mismatches.clear();
}

fn names(r: &AllDatabasesRestore, outcome: DatabaseRestoreOutcome) -> Vec<&str> {
    r.databases
        .iter()
        .filter(|d| d.outcome == outcome)
        .map(|d| d.database.as_str())
        .collect()
}

/// The message of a restore Job that restored every database of the run.
pub fn restored_message(key: &str, r: &AllDatabasesRestore) -> String {
    let tables: u64 = r
        .databases
        .iter()
        .map(|d| u64::from(d.tables_restored))
        .sum();
    let created = names(r, DatabaseRestoreOutcome::Restored)
        .into_iter()
        .filter(|n| r.databases.iter().any(|d| d.database == *n && d.created))
        .count();
    let omitted = if r.databases_omitted > 0 {
        format!(" and {} more", r.databases_omitted)
    } else {
        String::new()
    };
    format!(
        "restored every database of run {} (resolved from {key}): {} database(s) ({}{omitted}), \
         {tables} tables, {created} database(s) created",
        r.run_id,
        r.restored,
        names(r, DatabaseRestoreOutcome::Restored).join(", "),
    )
}

/// When a database was restored (committed) but its row counts differ: the
/// `verify.rowCounts` message naming those databases and what else happened.
pub fn mismatch_message(r: &AllDatabasesRestore) -> Option<String> {
    let mismatched: Vec<String> = r
        .databases
        .iter()
        .filter(|d| d.outcome == DatabaseRestoreOutcome::Mismatched)
        .map(|d| {
            format!(
                "{} ({} of {} tables differ)",
                d.database, d.mismatch_count, d.tables_compared
            )
        })
        .collect();
    if mismatched.is_empty() {
        return None;
    }
    let list = |o| {
        let n = names(r, o);
        if n.is_empty() {
            "none".to_string()
        } else {
            n.join(", ")
        }
    };
    Some(format!(
        "verify.rowCounts: restored but with row counts that differ from the backup's \
         manifest: {}; restored and matching: {}; not started: {}",
        mismatched.join(", "),
        list(DatabaseRestoreOutcome::Restored),
        list(DatabaseRestoreOutcome::NotStarted),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::Utc;
    use tidemark_crd::contract::result::DatabaseRestore;

    use super::*;

    fn db(
        name: &str,
        outcome: DatabaseRestoreOutcome,
        compared: u32,
        mismatches: u32,
    ) -> DatabaseRestore {
        DatabaseRestore {
            database: name.into(),
            key: format!("r.{name}.dump.zst"),
            outcome,
            created: outcome != DatabaseRestoreOutcome::NotStarted,
            tables_restored: compared,
            tables_compared: compared,
            mismatch_count: mismatches,
            duration_ms: 10,
            reason: None,
        }
    }

    fn report(dbs: Vec<DatabaseRestore>) -> AllDatabasesRestore {
        AllDatabasesRestore {
            run_id: "20261123T140005Z".into(),
            backup_completed_at: Utc::now(),
            restored: 2,
            failed: 0,
            not_started: 1,
            duration_ms: 20,
            databases_omitted: 0,
            databases: dbs,
        }
    }

    #[test]
    fn status_gets_each_database_and_the_table_totals() {
        let r = report(vec![
            db("alpha", DatabaseRestoreOutcome::Restored, 2, 0),
            db("beta", DatabaseRestoreOutcome::Mismatched, 3, 1),
            db("gamma", DatabaseRestoreOutcome::NotStarted, 0, 0),
        ]);
        let mut s = RestoreRequestStatus::default();
        record(&mut s, &r);
        assert_eq!(s.databases.len(), 3);
        assert_eq!((s.tables_restored, s.tables_compared), (Some(5), Some(5)));
        let m = mismatch_message(&r).unwrap();
        assert_eq!(
            m,
            "verify.rowCounts: restored but with row counts that differ from the backup's \
             manifest: beta (1 of 3 tables differ); restored and matching: alpha; not \
             started: gamma"
        );
    }

    #[test]
    fn a_full_success_names_the_run_and_its_databases() {
        let r = AllDatabasesRestore {
            restored: 2,
            not_started: 0,
            ..report(vec![
                db("alpha", DatabaseRestoreOutcome::Restored, 2, 0),
                db("beta", DatabaseRestoreOutcome::Restored, 3, 0),
            ])
        };
        assert!(mismatch_message(&r).is_none());
        assert_eq!(
            restored_message("p/ns/pol/20261123T140005Z.beta.dump.zst", &r),
            "restored every database of run 20261123T140005Z (resolved from \
             p/ns/pol/20261123T140005Z.beta.dump.zst): 2 database(s) (alpha, beta), 5 tables, \
             2 database(s) created"
        );
    }
}
