//! The Preflight phase: a full restore that does not set `mode.clean: true` must go into
//! an empty (or new) database, and a data-only restore into one that holds every table
//! it writes. A small `restore --preflight` Job checks the target after the backup is
//! resolved and before any writer is stopped; a target that holds user objects fails
//! the request at once with reason `TargetNotEmpty`, one that lacks a table the
//! data-only restore writes with the runner's `TargetTablesMissing` (naming them),
//! nothing touched. A full restore with `mode.clean: true` needs no preflight.

use tidemark_crd::contract::result::PreflightResult;
use tidemark_crd::restore_request::{RestoreContent, RestorePhase, RestoreRequestSpec};

use super::decide::{JOB_POLL, advance, commit, create_job, fail, next};
use super::observed::Inputs;
use super::step::Step;
use super::track::{Tracked, blocked_failure, job_failure, track};
use crate::naming::RunKind;

/// Reason of a request refused because the target is not empty.
pub const TARGET_NOT_EMPTY: &str = "TargetNotEmpty";
/// Reason of a request whose target database does not exist and may not be created.
pub const TARGET_NOT_FOUND: &str = "TargetNotFound";
/// Reason of a data-only request whose target lacks tables it writes (the runner's
/// preflight names them).
pub const TARGET_TABLES_MISSING: &str = "TargetTablesMissing";

/// Whether the request needs a preflight: a full restore that drops nothing, or a
/// data-only restore (into tables that must exist). With `backup.allDatabases` the
/// runner checks every target itself before changing any.
pub fn needed(spec: &RestoreRequestSpec) -> bool {
    (spec.mode.needs_empty_target() || writes_existing_tables(spec))
        && !spec.backup.restores_all_databases()
}

/// Whether the restore loads data into tables it does not create (`DataOnly`).
fn writes_existing_tables(spec: &RestoreRequestSpec) -> bool {
    spec.mode.content == RestoreContent::DataOnly
}

/// The phase after the backup is resolved (and after the preflight passed).
pub fn after_preflight(spec: &RestoreRequestSpec) -> RestorePhase {
    if spec.stop_writers.is_empty() {
        RestorePhase::Restoring
    } else {
        RestorePhase::StoppingWriters
    }
}

/// What the preflight's finding means for the request: `Ok` to go on, or the failure
/// reason and message (which names the field to set).
pub fn judge(
    spec: &RestoreRequestSpec,
    found: &PreflightResult,
) -> Result<(), (&'static str, String)> {
    if !found.exists && !spec.target.create_database {
        return Err((
            TARGET_NOT_FOUND,
            format!(
                "target.createDatabase: database {:?} does not exist; set \
                 target.createDatabase: true to create it, or name an existing database",
                found.database
            ),
        ));
    }
    // A data-only restore wants tables, not emptiness: the runner's preflight has
    // already failed (`TargetTablesMissing`) when any it writes is missing.
    if found.is_empty() || writes_existing_tables(spec) {
        return Ok(());
    }
    Err((
        TARGET_NOT_EMPTY,
        format!(
            "mode.clean: database {:?} is not empty ({} tables, {} objects) and a full \
             restore without mode.clean would not drop them; set mode.clean: true to \
             overwrite it, or restore into an empty or new database \
             (target.createDatabase: true). Nothing was touched.",
            found.database, found.user_tables, found.user_objects
        ),
    ))
}

/// The Preflight phase step.
pub fn preflight(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    let (name, tracked) = track(i, &mut s, RunKind::Preflight);
    match tracked {
        Tracked::Absent | Tracked::Vanished => {
            s.message = Some(if writes_existing_tables(i.spec) {
                "checking that the target database holds every table the restore writes".into()
            } else {
                "checking that the target database is empty".into()
            });
            create_job(i, s, RunKind::Preflight, name)
        }
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::Preflight, &name, b),
        Tracked::Succeeded(report) => match report.and_then(|r| r.preflight.as_ref()) {
            Some(found) => {
                s.target_check = Some(found.clone());
                match judge(i.spec, found) {
                    Ok(()) => {
                        let message = if writes_existing_tables(i.spec) {
                            format!(
                                "target database {:?} holds every table the restore writes",
                                found.database
                            )
                        } else if found.exists {
                            format!("target database {:?} is empty", found.database)
                        } else {
                            format!("target database {:?} will be created", found.database)
                        };
                        advance(
                            i,
                            s,
                            after_preflight(i.spec),
                            ("TargetChecked", "TargetChecked"),
                            message,
                        )
                    }
                    Err((reason, message)) => fail(i, s, reason, message),
                }
            }
            None => fail(
                i,
                s,
                "PreflightReportMissing",
                format!("the preflight Job {name} succeeded without a readable report"),
            ),
        },
        Tracked::Failed {
            reason,
            message,
            report,
            exit_code,
        } => {
            let (runner_reason, message) =
                job_failure("preflight", &name, reason, message, report, exit_code);
            // The runner's finding about the target is the request's reason; anything
            // else is a preflight that could not check.
            let reason = match runner_reason.as_deref() {
                Some(TARGET_TABLES_MISSING) => TARGET_TABLES_MISSING,
                _ => "PreflightFailed",
            };
            fail(i, s, reason, message)
        }
    }
}
