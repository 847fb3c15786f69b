//! The Verifying phase: the restored row counts against the backup's manifest (the
//! `Verified` condition), then on to restarting the writers or success.

use tidemark_crd::common::TableMismatch;
use tidemark_crd::restore_request::{RestoreContent, RestorePhase, RestoreRequestStatus};

use super::decide::{SOON, commit, fail, next, succeeded};
use super::observed::Inputs;
use super::progress::{VERIFIED, enter, set_condition};
use super::step::{Note, Step};

/// Mismatches spelled out in a message.
const MISMATCHES_IN_MESSAGE: usize = 5;
pub(super) fn mismatch_message(
    mismatches: &[TableMismatch],
    total: usize,
    compared: i64,
) -> String {
    let listed: Vec<String> = mismatches
        .iter()
        .take(MISMATCHES_IN_MESSAGE)
        .map(|m| {
            format!(
                "{} expected {} rows, found {}",
                m.table, m.expected, m.actual
            )
        })
        .collect();
    format!(
        "verify.rowCounts: {} of {compared} tables differ from the backup's manifest: {}",
        total.max(mismatches.len()),
        listed.join("; ")
    )
}

/// Fails with the restored rows not matching the backup's manifest (also the
/// `Verified` condition).
pub(super) fn row_count_mismatch(
    i: &Inputs<'_>,
    mut s: RestoreRequestStatus,
    message: String,
) -> Step {
    set_condition(
        &mut s,
        VERIFIED,
        "False",
        "RowCountMismatch",
        &message,
        i.now,
        i.generation,
    );
    fail(i, s, "RowCountMismatch", message)
}

pub(super) fn verifying(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    let (value, reason, message) = if !i.spec.verify.row_counts {
        (
            "Unknown",
            "NotRequested",
            "verify.rowCounts is false".to_string(),
        )
    } else if i.spec.mode.content == RestoreContent::SchemaOnly {
        (
            "Unknown",
            "SchemaOnly",
            "a schema-only restore has no rows to compare".to_string(),
        )
    } else {
        match s.tables_compared {
            None => {
                let message = "verify.rowCounts: the restore Job reported no row counts to compare"
                    .to_string();
                set_condition(
                    &mut s,
                    VERIFIED,
                    "False",
                    "NoRowCounts",
                    &message,
                    i.now,
                    i.generation,
                );
                return fail(i, s, "VerificationUnavailable", message);
            }
            Some(0) if s.mismatches.is_empty() => (
                "Unknown",
                "NothingCompared",
                "the backup's manifest has no row counts to compare (the policy's \
                 dump.rowCounts is off, or no restored table has a count)"
                    .to_string(),
            ),
            Some(n) if s.mismatches.is_empty() => (
                "True",
                "RowCountsMatch",
                match s.databases.len() {
                    0 => format!("row counts of {n} tables match the backup's manifest"),
                    d => format!(
                        "row counts of {n} tables in {d} databases match their backups' manifests"
                    ),
                },
            ),
            Some(n) => {
                let message = mismatch_message(&s.mismatches, 0, i64::from(n));
                return row_count_mismatch(i, s, message);
            }
        }
    };
    set_condition(
        &mut s,
        VERIFIED,
        value,
        reason,
        &message,
        i.now,
        i.generation,
    );
    s.reason = Some(reason.to_string());
    s.message = Some(message.clone());
    let mut events = vec![Note::normal("Verified", message)];
    if s.writers.iter().any(|w| !w.restarted) {
        enter(&mut s, RestorePhase::RestartingWriters, i.now);
        s.message = Some("restarting writers".into());
        return commit(i, s, Vec::new(), events, Some(SOON));
    }
    events.push(succeeded(i, &mut s, &[]));
    commit(i, s, Vec::new(), events, None)
}
