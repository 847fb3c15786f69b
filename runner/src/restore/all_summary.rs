//! The report of an all-databases restore: each database's outcome in run order,
//! bounded so the report stays under the 4 KiB termination-message limit, and the
//! message naming what was restored, what failed and what was not started. Pure.

use chrono::{DateTime, Utc};
use tidemark_crd::contract::result::{
    AllDatabasesRestore, DatabaseRestore, DatabaseRestoreOutcome, MAX_RESTORED_DATABASES,
};

/// Largest serialised summary; the report's envelope and error message fit in the rest.
const MAX_SUMMARY_BYTES: usize = 2400;

/// Longest key kept in an entry (longer ones keep their end, the distinctive part).
const MAX_KEY_CHARS: usize = 120;

/// The summary of `databases` (every database of the run, in run order).
pub fn summarise(
    run_id: &str,
    backup_completed_at: DateTime<Utc>,
    databases: &[DatabaseRestore],
) -> AllDatabasesRestore {
    let count = |o: DatabaseRestoreOutcome| {
        u32::try_from(databases.iter().filter(|d| d.outcome == o).count()).unwrap_or(u32::MAX)
    };
    let mut listed: Vec<DatabaseRestore> = databases
        .iter()
        .take(MAX_RESTORED_DATABASES)
        .cloned()
        .map(|mut d| {
            d.key = tail(&d.key, MAX_KEY_CHARS);
            d
        })
        .collect();
    let mut summary = AllDatabasesRestore {
        run_id: run_id.to_string(),
        backup_completed_at,
        databases: Vec::new(),
        databases_omitted: 0,
        restored: count(DatabaseRestoreOutcome::Restored)
            + count(DatabaseRestoreOutcome::Mismatched),
        failed: count(DatabaseRestoreOutcome::Failed),
        not_started: count(DatabaseRestoreOutcome::NotStarted),
        duration_ms: databases.iter().map(|d| d.duration_ms).sum(),
    };
    // Entries that must stay (failed, mismatched) are kept before those that may go.
    while size(&summary, &listed) > MAX_SUMMARY_BYTES && !listed.is_empty() {
        let drop = listed
            .iter()
            .rposition(|d| {
                matches!(
                    d.outcome,
                    DatabaseRestoreOutcome::NotStarted | DatabaseRestoreOutcome::Restored
                )
            })
            .unwrap_or(listed.len() - 1);
        listed.remove(drop);
    }
    summary.databases_omitted = u32::try_from(databases.len() - listed.len()).unwrap_or(u32::MAX);
    summary.databases = listed;
    summary
}

fn size(summary: &AllDatabasesRestore, listed: &[DatabaseRestore]) -> usize {
    let mut s = summary.clone();
    s.databases = listed.to_vec();
    serde_json::to_string(&s)
        .map(|j| j.len())
        .unwrap_or(usize::MAX)
}

fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    format!("…{}", s.chars().skip(n - max + 1).collect::<String>())
}

/// The names of the databases with `outcome`, comma-separated (`none` when empty).
fn names(databases: &[DatabaseRestore], outcome: DatabaseRestoreOutcome) -> String {
    let list: Vec<&str> = databases
        .iter()
        .filter(|d| d.outcome == outcome)
        .map(|d| d.database.as_str())
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

/// The message of a run stopped by a database's failure: which one and why, then which
/// databases were restored (committed) and which were not started.
pub fn failure_message(databases: &[DatabaseRestore], failed: &str, error: &str) -> String {
    let mismatched = names(databases, DatabaseRestoreOutcome::Mismatched);
    let mismatched = if mismatched == "none" {
        String::new()
    } else {
        format!("; restored but with row counts that differ: {mismatched}")
    };
    format!(
        "restoring database {failed} failed: {error} — restored (committed): {}{mismatched}; \
         not started: {}",
        names(databases, DatabaseRestoreOutcome::Restored),
        names(databases, DatabaseRestoreOutcome::NotStarted),
    )
}

/// The message of a run interrupted between two databases, before `next` started.
pub fn interrupted_message(databases: &[DatabaseRestore], signal: &str, next: &str) -> String {
    format!(
        "interrupted by {signal} before database {next} was started — restored (committed): \
         {}; not started: {}",
        names(databases, DatabaseRestoreOutcome::Restored),
        names(databases, DatabaseRestoreOutcome::NotStarted),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tidemark_crd::contract::result::MAX_REPORT_BYTES;

    fn entry(i: usize, outcome: DatabaseRestoreOutcome) -> DatabaseRestore {
        DatabaseRestore {
            database: format!("{}{i}", "d".repeat(60)),
            key: format!("20260101T000000Z.{}{i}.dump.zst", "d".repeat(180)),
            outcome,
            created: true,
            tables_restored: 100,
            tables_compared: 100,
            mismatch_count: 0,
            duration_ms: 1000,
            reason: (outcome == DatabaseRestoreOutcome::Failed).then(|| "RestoreFailed".into()),
        }
    }

    #[test]
    fn many_long_databases_fit_and_the_failed_one_stays_listed() {
        let mut all: Vec<DatabaseRestore> = (0..10)
            .map(|i| entry(i, DatabaseRestoreOutcome::Restored))
            .collect();
        all.push(entry(10, DatabaseRestoreOutcome::Failed));
        all.extend((11..40).map(|i| entry(i, DatabaseRestoreOutcome::NotStarted)));
        let s = summarise("20260101T000000Z", Utc::now(), &all);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.len() <= MAX_SUMMARY_BYTES, "{}", json.len());
        assert!(json.len() < MAX_REPORT_BYTES / 2 + 500);
        assert!(
            s.databases
                .iter()
                .any(|d| d.outcome == DatabaseRestoreOutcome::Failed)
        );
        assert_eq!(
            (s.restored, s.failed, s.not_started),
            (10, 1, 29),
            "counts cover every database, listed or not"
        );
        assert_eq!(s.databases_omitted as usize, 40 - s.databases.len());
        assert!(s.databases.iter().all(|d| d.key.chars().count() <= 120));
    }

    #[test]
    fn a_small_run_is_listed_whole() {
        let all = vec![
            DatabaseRestore {
                database: "alpha".into(),
                key: "r.alpha.dump.zst".into(),
                ..entry(0, DatabaseRestoreOutcome::Restored)
            },
            DatabaseRestore {
                database: "beta".into(),
                ..entry(1, DatabaseRestoreOutcome::Failed)
            },
            DatabaseRestore {
                database: "gamma".into(),
                ..entry(2, DatabaseRestoreOutcome::NotStarted)
            },
        ];
        let s = summarise("r", Utc::now(), &all);
        assert_eq!(s.databases.len(), 3);
        assert_eq!(s.databases_omitted, 0);
        assert_eq!(s.databases[0].key, "r.alpha.dump.zst");
        let m = failure_message(&all, "beta", "pg_restore failed: boom");
        assert_eq!(
            m,
            "restoring database beta failed: pg_restore failed: boom — restored (committed): \
             alpha; not started: gamma"
        );
        assert_eq!(
            interrupted_message(&all, "SIGTERM", "gamma"),
            "interrupted by SIGTERM before database gamma was started — restored (committed): \
             alpha; not started: gamma"
        );
    }
}
