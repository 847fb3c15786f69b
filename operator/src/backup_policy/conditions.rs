//! The conditions of a BackupPolicy: `Ready`, `LastBackupSucceeded`, `BackupFresh`,
//! `Verified`, `RestoreTested`. Pure: computed from the spec and the new status.
//! `lastTransitionTime` is kept while a condition's status does not change.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use tidemark_crd::backup_policy::{BackupPolicySpec, BackupPolicyStatus};

use super::effective::Effective;
use super::validate::SpecError;
use crate::runtime::observed::PodProblem;

pub const READY: &str = "Ready";
pub const LAST_BACKUP_SUCCEEDED: &str = "LastBackupSucceeded";
pub const BACKUP_FRESH: &str = "BackupFresh";
pub const VERIFIED: &str = "Verified";
pub const RESTORE_TESTED: &str = "RestoreTested";

/// Condition status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

/// One computed condition before timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub type_: &'static str,
    pub status: Status,
    pub reason: String,
    pub message: String,
}

fn verdict(type_: &'static str, status: Status, reason: &str, message: String) -> Verdict {
    Verdict {
        type_,
        status,
        reason: reason.to_string(),
        message,
    }
}

/// What the conditions depend on.
#[derive(Clone, Debug)]
pub struct ConditionInputs<'a> {
    pub spec: &'a BackupPolicySpec,
    /// The status after recording the new results (conditions not yet set).
    pub status: &'a BackupPolicyStatus,
    /// The spec's first invalid field, if any.
    pub invalid: Option<&'a SpecError>,
    /// The settings in use (`None`: they cannot be derived from the spec).
    pub effective: Option<&'a Effective>,
    /// An active Job whose runner cannot start or died without a report.
    pub stuck_job: Option<(&'a str, &'a PodProblem)>,
    pub created: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

fn ready(i: &ConditionInputs<'_>) -> Verdict {
    if let Some(e) = i.invalid {
        return verdict(READY, Status::False, e.reason, e.message.clone());
    }
    if let Some((reason, message)) = i
        .effective
        .and_then(|e| super::effective::problem(i.spec, e))
    {
        return verdict(READY, Status::False, reason, message);
    }
    if let Some((job, p)) = i.stuck_job {
        return verdict(
            READY,
            Status::False,
            &p.reason,
            format!("Job {job}: {}: {}", p.reason, p.message),
        );
    }
    if i.spec.suspend {
        return verdict(
            READY,
            Status::True,
            "Suspended",
            "scheduling is suspended (spec.suspend)".to_string(),
        );
    }
    verdict(
        READY,
        Status::True,
        "Scheduled",
        format!(
            "backups scheduled by {:?} in {}",
            i.spec.schedule, i.spec.time_zone
        ),
    )
}

fn last_backup(i: &ConditionInputs<'_>) -> Verdict {
    let s = i.status;
    if s.consecutive_failures > 0 {
        let (reason, detail) = s
            .last_failure
            .as_ref()
            .filter(|f| f.kind == "backup")
            .map(|f| (f.reason.as_str(), f.message.as_str()))
            .unwrap_or(("BackupFailed", ""));
        let mut message = format!("{} consecutive failed backup(s)", s.consecutive_failures);
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        return verdict(LAST_BACKUP_SUCCEEDED, Status::False, reason, message);
    }
    match &s.last_backup {
        Some(b) => verdict(
            LAST_BACKUP_SUCCEEDED,
            Status::True,
            "BackupSucceeded",
            format!("{} ({})", b.key, b.size),
        ),
        None => verdict(
            LAST_BACKUP_SUCCEEDED,
            Status::Unknown,
            "NoBackupYet",
            "no backup has finished yet".to_string(),
        ),
    }
}

/// When `BackupFresh` turns False unless a new backup completes (None: it is not True
/// now, or the RPO is invalid).
pub fn fresh_until(
    effective: Option<&Effective>,
    status: &BackupPolicyStatus,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let rpo = effective?.rpo;
    let from = status
        .last_backup
        .as_ref()
        .map_or(created, |b| b.completed_at);
    Some(from + rpo).filter(|t| *t > now)
}

fn fresh(i: &ConditionInputs<'_>) -> Verdict {
    let Some(limit) = i.effective.map(|e| e.rpo) else {
        // No RPO can be derived while the spec is invalid: name the field that is (the
        // same reason and message as Ready), not necessarily `rpo`.
        let (reason, message) = match i.invalid {
            Some(e) => (e.reason, format!("the RPO cannot be judged: {}", e.message)),
            None => (
                "InvalidSpec",
                "the RPO cannot be derived from the spec".to_string(),
            ),
        };
        return verdict(BACKUP_FRESH, Status::Unknown, reason, message);
    };
    let rpo = &super::effective::duration_text(limit);
    match &i.status.last_backup {
        Some(b) if i.now < b.completed_at + limit => verdict(
            BACKUP_FRESH,
            Status::True,
            "WithinRPO",
            format!(
                "newest backup completed at {}, within rpo {rpo}",
                b.completed_at.to_rfc3339()
            ),
        ),
        Some(b) => verdict(
            BACKUP_FRESH,
            Status::False,
            "Stale",
            format!(
                "newest backup completed at {}, older than rpo {rpo}",
                b.completed_at.to_rfc3339()
            ),
        ),
        None if i.now >= i.created + limit => verdict(
            BACKUP_FRESH,
            Status::False,
            "NoBackup",
            format!("no successful backup within rpo {rpo} of the policy's creation"),
        ),
        None => verdict(
            BACKUP_FRESH,
            Status::Unknown,
            "NoBackupYet",
            "no backup has finished yet".to_string(),
        ),
    }
}

fn verified(i: &ConditionInputs<'_>) -> Verdict {
    if !i.spec.verification.enabled {
        return verdict(
            VERIFIED,
            Status::Unknown,
            "Disabled",
            "verification is disabled (spec.verification.enabled)".to_string(),
        );
    }
    match &i.status.last_verification {
        None => verdict(
            VERIFIED,
            Status::Unknown,
            "NotVerifiedYet",
            "no verification has finished yet".to_string(),
        ),
        Some(v) if v.passed => verdict(
            VERIFIED,
            Status::True,
            "Verified",
            format!(
                "{} passed {} checks",
                v.key.as_deref().unwrap_or("the newest backup"),
                v.checks.len()
            ),
        ),
        Some(v) => {
            let failed: Vec<String> = v
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| {
                    if c.message.is_empty() {
                        c.name.clone()
                    } else {
                        format!("{}: {}", c.name, c.message)
                    }
                })
                .collect();
            let detail = if failed.is_empty() {
                "the verification Job failed".to_string()
            } else {
                failed.join("; ")
            };
            verdict(
                VERIFIED,
                Status::False,
                "VerificationFailed",
                format!(
                    "{}: {detail}",
                    v.key.as_deref().unwrap_or("the newest backup")
                ),
            )
        }
    }
}

fn restore_tested(i: &ConditionInputs<'_>) -> Verdict {
    if !i.spec.restore_test.as_ref().is_some_and(|r| r.enabled) {
        return verdict(
            RESTORE_TESTED,
            Status::Unknown,
            "Disabled",
            "restore tests are not enabled (spec.restoreTest)".to_string(),
        );
    }
    match &i.status.last_restore_test {
        None => verdict(
            RESTORE_TESTED,
            Status::Unknown,
            "NotTestedYet",
            "no restore test has finished yet".to_string(),
        ),
        Some(t) if t.passed => verdict(
            RESTORE_TESTED,
            Status::True,
            "RestoreTestPassed",
            format!(
                "{}: {} tables compared, all row counts match",
                t.key.as_deref().unwrap_or("the newest backup"),
                t.tables_compared
            ),
        ),
        Some(t) => {
            let detail = if !t.mismatches.is_empty() {
                format!("{} table(s) differ from the manifest", t.mismatches.len())
            } else if !t.message.is_empty() {
                t.message.clone()
            } else {
                "the restore test Job failed".to_string()
            };
            verdict(
                RESTORE_TESTED,
                Status::False,
                "RestoreTestFailed",
                format!(
                    "{}: {detail}",
                    t.key.as_deref().unwrap_or("the newest backup")
                ),
            )
        }
    }
}

/// The five verdicts, in a fixed order.
pub fn verdicts(i: &ConditionInputs<'_>) -> Vec<Verdict> {
    vec![
        ready(i),
        last_backup(i),
        fresh(i),
        verified(i),
        restore_tested(i),
    ]
}

/// Verdicts as API conditions: `lastTransitionTime` is `now` when the status changed
/// (or the condition is new), else the previous one's.
pub fn to_conditions(
    verdicts: Vec<Verdict>,
    previous: &[Condition],
    generation: Option<i64>,
    now: Time,
) -> Vec<Condition> {
    verdicts
        .into_iter()
        .map(|v| {
            let status = v.status.as_str();
            let last_transition_time = previous
                .iter()
                .find(|c| c.type_ == v.type_ && c.status == status)
                .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
            Condition {
                type_: v.type_.to_string(),
                status: status.to_string(),
                reason: v.reason,
                message: v.message,
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}
