//! The Restoring and PostRestore phases: the checksum-gated restore Job, then the
//! optional post-restore Job (the user's image and command).

use tidemark_crd::contract::result::RestoreResult;
use tidemark_crd::restore_request::{RestorePhase, RestoreRequestStatus};

use super::all_databases;
use super::decide::{
    JOB_POLL, SOON, advance, commit, create_job, fail, next, source, target_database,
};
use super::observed::Inputs;
use super::progress::enter;
use super::step::Step;
use super::track::{Tracked, blocked_failure, job_failure, track, vanished};
use super::verifying::{mismatch_message, row_count_mismatch};
use crate::naming::RunKind;

/// Copies what the runner reported about the restore into status.
fn record_restore(s: &mut RestoreRequestStatus, r: &RestoreResult) {
    s.tables_restored = i32::try_from(r.tables_restored).ok();
    s.tables_compared = i32::try_from(r.tables_compared).ok();
    s.parallelism = i32::try_from(r.parallelism).ok();
    s.mismatches.clone_from(&r.mismatches);
    s.roles_created.clone_from(&r.roles_created);
}

pub(super) fn restoring(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    let Some(key) = s.resolved_backup.as_ref().map(|b| b.key.clone()) else {
        return fail(
            i,
            s,
            "Internal",
            "status.resolvedBackup is missing in phase Restoring".into(),
        );
    };
    let (name, tracked) = track(i, &mut s, RunKind::Restore);
    match tracked {
        Tracked::Absent if source(i).is_none() => {
            let policy = i.spec.source.policy_ref.as_ref().map(|p| p.name.as_str());
            fail(
                i,
                s,
                "PolicyNotFound",
                format!(
                    "source.policyRef.name: BackupPolicy {:?} no longer exists in namespace {:?}; \
                     its bucket settings are needed to restore",
                    policy.unwrap_or_default(),
                    i.namespace
                ),
            )
        }
        Tracked::Absent => {
            s.reason = Some("Restoring".into());
            s.message = Some(format!("restoring {key} into {}", target_database(i)));
            create_job(i, s, RunKind::Restore, name)
        }
        Tracked::Vanished => vanished(i, s, "restore", &name),
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::Restore, &name, b),
        Tracked::Succeeded(report) => {
            if let Some(all) = report.and_then(|r| r.restore_all.as_ref()) {
                all_databases::record(&mut s, all);
                let message = all_databases::restored_message(&key, all);
                return advance(i, s, after_restore(i), ("Restored", "Restored"), message);
            }
            let restored = report.and_then(|r| r.restore.as_ref());
            if let Some(r) = restored {
                record_restore(&mut s, r);
            }
            let tables =
                restored.map_or_else(String::new, |r| format!(" ({} tables)", r.tables_restored));
            let roles = restored
                .filter(|r| !r.roles_created.is_empty())
                .map_or_else(String::new, |r| {
                    format!("; created role(s) {}", r.roles_created.join(", "))
                });
            let message = format!("restored {key} into {}{tables}{roles}", target_database(i));
            advance(i, s, after_restore(i), ("Restored", "Restored"), message)
        }
        Tracked::Failed {
            reason,
            message,
            report,
            exit_code,
        } => {
            if let Some(all) = report.and_then(|r| r.restore_all.as_ref()) {
                all_databases::record(&mut s, all);
                if let Some(message) = all_databases::mismatch_message(all) {
                    return row_count_mismatch(i, s, message);
                }
            }
            if let Some(r) = report.and_then(|r| r.restore.as_ref())
                && (!r.mismatches.is_empty() || r.mismatch_count > 0)
            {
                record_restore(&mut s, r);
                let total = usize::try_from(r.mismatch_count).unwrap_or(usize::MAX);
                let message = mismatch_message(&r.mismatches, total, i64::from(r.tables_compared));
                return row_count_mismatch(i, s, message);
            }
            let (runner_reason, message) =
                job_failure("restore", &name, reason, message, report, exit_code);
            let reason = runner_reason.unwrap_or_else(|| "RestoreJobFailed".to_string());
            fail(i, s, &reason, message)
        }
    }
}

fn after_restore(i: &Inputs<'_>) -> RestorePhase {
    if i.spec.post_restore.is_some() {
        RestorePhase::PostRestore
    } else {
        RestorePhase::Verifying
    }
}

pub(super) fn post_restore(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    if i.spec.post_restore.is_none() {
        enter(&mut s, RestorePhase::Verifying, i.now);
        return commit(i, s, Vec::new(), Vec::new(), Some(SOON));
    }
    let (name, tracked) = track(i, &mut s, RunKind::PostRestore);
    match tracked {
        Tracked::Absent => {
            s.reason = Some("PostRestore".into());
            s.message = Some(format!("running the post-restore Job {name}"));
            create_job(i, s, RunKind::PostRestore, name)
        }
        Tracked::Vanished => vanished(i, s, "post-restore", &name),
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::PostRestore, &name, b),
        Tracked::Succeeded(_) => {
            let message = format!("the post-restore Job {name} succeeded");
            let reasons = ("PostRestoreSucceeded", "PostRestoreSucceeded");
            advance(i, s, RestorePhase::Verifying, reasons, message)
        }
        Tracked::Failed {
            reason,
            message,
            exit_code,
            ..
        } => {
            // The post-restore container is the user's, not the runner: no report.
            let (_, message) = job_failure("post-restore", &name, reason, message, None, exit_code);
            fail(i, s, "PostRestoreFailed", format!("postRestore: {message}"))
        }
    }
}
