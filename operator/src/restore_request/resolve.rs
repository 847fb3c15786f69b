//! The Resolving phase: the backup to restore, from the policy's inventory or, for an
//! explicit source or a backup the inventory does not show yet, from a `list` Job.

use chrono::SecondsFormat;
use tidemark_crd::restore_request::{ResolvedBackup, RestorePhase, RestoreRequestStatus};

use super::decide::{JOB_POLL, advance, commit, create_job, fail, next, source};
use super::observed::{Inputs, PolicyView};
use super::preflight;
use super::select::{Selection, from_inventory, from_listed};
use super::step::Step;
use super::track::{Tracked, blocked_failure, job_failure, track};
use crate::naming::RunKind;

/// Runner reasons that mean the selector matched nothing.
const NO_MATCH_REASONS: [&str; 2] = ["NoBackupFound", "BackupNotFound"];
/// The runner's reason for a backup whose manifest exists without its data (or with
/// data of another size): never selected, reported as it is.
const BACKUP_INCOMPLETE: &str = "BackupIncomplete";
/// The request's reason when the chosen backup belongs to a run of several databases
/// and `backup.database` does not name one.
const DATABASE_REQUIRED: &str = "DatabaseRequired";
/// Suffix of an age-encrypted backup key (see `contract::keys::extension`).
const ENCRYPTED_SUFFIX: &str = ".age";

/// Moves on with the chosen backup, recorded before anything is touched.
fn resolved(i: &Inputs<'_>, mut s: RestoreRequestStatus, b: ResolvedBackup, via: &str) -> Step {
    if b.key.ends_with(ENCRYPTED_SUFFIX) && i.spec.decryption_identity_secret_ref.is_none() {
        let message = format!(
            "decryptionIdentitySecretRef: backup {} is encrypted with age; name the Secret \
             key holding the identity (AGE-SECRET-KEY-1…) that decrypts it",
            b.key
        );
        s.resolved_backup = Some(b);
        return fail(i, s, "DecryptionIdentityMissing", message);
    }
    let message = format!(
        "resolved backup {} (completed {}, sha256 {}) from {via}",
        b.key,
        b.completed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        b.sha256
    );
    s.resolved_backup = Some(b);
    let phase = if preflight::needed(i.spec) {
        RestorePhase::Preflight
    } else {
        preflight::after_preflight(i.spec)
    };
    advance(i, s, phase, ("Resolved", "BackupResolved"), message)
}

pub(super) fn resolving(i: &Inputs<'_>) -> Step {
    let s = next(i);
    let sel = Selection::of(&i.spec.backup);
    if let Some(p) = &i.spec.source.policy_ref {
        match i.policy {
            PolicyView::Found(policy) => {
                if let Some(b) = policy
                    .status
                    .as_ref()
                    .and_then(|st| from_inventory(sel, i.spec.backup.database.as_deref(), st))
                {
                    return resolved(i, s, b, "the policy's inventory");
                }
            }
            PolicyView::Missing | PolicyView::NotReferenced => {
                return fail(
                    i,
                    s,
                    "PolicyNotFound",
                    format!(
                        "source.policyRef.name: BackupPolicy {:?} not found in namespace {:?}",
                        p.name, i.namespace
                    ),
                );
            }
        }
    }
    let location = source(i).map_or_else(|| "the source".to_string(), |src| src.location());
    let mut s = s;
    let (name, tracked) = track(i, &mut s, RunKind::List);
    match tracked {
        Tracked::Absent | Tracked::Vanished => {
            s.message = Some(format!("listing the backups in {location}"));
            create_job(i, s, RunKind::List, name)
        }
        Tracked::Running => commit(i, s, Vec::new(), Vec::new(), Some(JOB_POLL)),
        Tracked::Blocked(b) => blocked_failure(i, s, RunKind::List, &name, b),
        Tracked::Succeeded(report) => match report.and_then(|r| r.list.as_ref()) {
            Some(list) => match &list.selected {
                Some(b) => resolved(i, s, from_listed(b), &format!("list Job {name}")),
                // `list` selects no newest backup that belongs to a run of several
                // databases unless a database is named.
                None if list.count > 0
                    && sel == Selection::Latest
                    && i.spec.backup.database.is_none() =>
                {
                    fail(
                        i,
                        s,
                        DATABASE_REQUIRED,
                        format!(
                            "backup.database: the newest backup in {location} belongs to a run \
                             of several databases; name the database to restore"
                        ),
                    )
                }
                None => fail(i, s, "NoMatchingBackup", sel.no_match(&location)),
            },
            None => fail(
                i,
                s,
                "ListReportMissing",
                format!("the list Job {name} succeeded without a readable report"),
            ),
        },
        Tracked::Failed {
            reason,
            message,
            report,
            exit_code,
        } => {
            let runner_reason = report
                .and_then(|r| r.error.as_ref())
                .map(|e| e.reason.as_str());
            if runner_reason.is_some_and(|r| NO_MATCH_REASONS.contains(&r)) {
                return fail(i, s, "NoMatchingBackup", sel.no_match(&location));
            }
            let (runner_reason, message) =
                job_failure("list", &name, reason, message, report, exit_code);
            // A broken backup (manifest without its data) is the user's to act on, not the
            // list Job's failure.
            let reason = match runner_reason.as_deref() {
                Some(BACKUP_INCOMPLETE) => BACKUP_INCOMPLETE,
                _ if message.contains(tidemark_crd::contract::env::BACKUP_DATABASE) => {
                    DATABASE_REQUIRED
                }
                _ => "ListFailed",
            };
            fail(i, s, reason, message)
        }
    }
}
