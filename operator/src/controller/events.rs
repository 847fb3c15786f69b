//! The Kubernetes Events of a BackupPolicy (pure: what to say; publishing is I/O).
//! Messages carry Job names, keys, sizes and the runner's secret-free reasons only.

use kube::runtime::events::{Event, EventType};
use tidemark_crd::backup_policy::SkippedRun;

use crate::jobs::policy::Trigger;
use crate::naming::RunKind;
use crate::policy::decide::Launch;
use crate::policy::results::{RunOutcome, RunResult};
use crate::policy::validate::SpecError;
use tidemark_crd::units::human_size;

fn noun(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Backup => "Backup",
        RunKind::Prune => "Prune",
        RunKind::Verify => "Verification",
        RunKind::RestoreTest => "RestoreTest",
        RunKind::Purge => "Purge",
        RunKind::Restore => "Restore",
        RunKind::PostRestore => "PostRestore",
        RunKind::RestoreVerify => "RestoreVerification",
        RunKind::List => "List",
        RunKind::Preflight => "Preflight",
    }
}

/// `Normal <Kind>Started` for a created Job.
pub fn launched(l: &Launch) -> Event {
    let why = match (&l.trigger, &l.after) {
        (_, Some(after)) => format!("after {after}"),
        (Trigger::Scheduled(at), None) => format!("scheduled for {}", at.to_rfc3339()),
        (Trigger::RunNow(v), None) => format!("runNow {v:?}"),
    };
    Event {
        type_: EventType::Normal,
        reason: format!("{}Started", noun(l.kind)),
        note: Some(format!("created Job {} ({why})", l.name)),
        action: "CreateJob".to_string(),
        secondary: None,
    }
}

/// `Normal <Kind>Succeeded` or `Warning <Kind>Failed` for a recorded result.
pub fn outcome(r: &RunResult) -> Event {
    let report = r.report.as_ref();
    match &r.outcome {
        RunOutcome::Succeeded => {
            let detail = match r.kind {
                RunKind::Backup => report.and_then(|rep| rep.backup.as_ref()).map(|b| {
                    format!(
                        ": {} ({}, {} rows)",
                        b.key,
                        human_size(b.stored_size),
                        b.total_rows
                    )
                }),
                RunKind::Prune => report
                    .and_then(|rep| rep.prune.as_ref())
                    .map(|p| format!(": kept {}, deleted {}", p.kept_count, p.deleted_count)),
                RunKind::Verify => report
                    .and_then(|rep| rep.verify.as_ref())
                    .and_then(|v| v.key.as_ref())
                    .map(|k| format!(": {k}")),
                RunKind::RestoreTest => report.and_then(|rep| rep.restore_test.as_ref()).map(|t| {
                    format!(
                        ": {} tables compared, {} ms",
                        t.tables_compared, t.duration_ms
                    )
                }),
                _ => None,
            };
            Event {
                type_: EventType::Normal,
                reason: format!("{}Succeeded", noun(r.kind)),
                note: Some(format!("Job {}{}", r.job_name, detail.unwrap_or_default())),
                action: "RecordResult".to_string(),
                secondary: None,
            }
        }
        RunOutcome::Failed {
            reason, message, ..
        } => Event {
            type_: EventType::Warning,
            reason: format!("{}Failed", noun(r.kind)),
            note: Some(truncate(format!("Job {}: {reason}: {message}", r.job_name))),
            action: "RecordResult".to_string(),
            secondary: None,
        },
    }
}

/// `Warning InvalidSpec` naming the field.
pub fn invalid(e: &SpecError) -> Event {
    Event {
        type_: EventType::Warning,
        reason: e.reason.to_string(),
        note: Some(truncate(e.message.clone())),
        action: "Validate".to_string(),
        secondary: None,
    }
}

/// `Warning RunSkipped`.
pub fn skipped(s: &SkippedRun) -> Event {
    Event {
        type_: EventType::Warning,
        reason: "RunSkipped".to_string(),
        note: Some(format!(
            "{} scheduled for {} skipped ({:?}): {}",
            s.kind,
            s.scheduled_time.to_rfc3339(),
            s.reason,
            s.message
        )),
        action: "Schedule".to_string(),
        secondary: None,
    }
}

/// A Job could not be built from the spec.
pub fn build_failed(name: &str, error: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: "JobBuildFailed".to_string(),
        note: Some(truncate(format!("Job {name}: {error}"))),
        action: "CreateJob".to_string(),
        secondary: None,
    }
}

/// A webhook alert could not be delivered (the error never contains the URL).
pub fn alert_failed(event: &str, error: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: "AlertFailed".to_string(),
        note: Some(truncate(format!("alert {event} not delivered: {error}"))),
        action: "Alert".to_string(),
        secondary: None,
    }
}

/// Event notes are limited to 1 KiB by the API server: longer ones are cut (at a char
/// boundary) and end in `…`.
pub(crate) fn truncate(mut s: String) -> String {
    const MAX: usize = 1000;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(800));
        assert!(s.len() <= 1003);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn failure_event_is_a_warning_with_the_reason() {
        let r = RunResult {
            job_name: "webshop-backup-x".into(),
            kind: RunKind::Backup,
            finished: chrono::Utc::now(),
            outcome: RunOutcome::Failed {
                reason: "PgDumpFailed".into(),
                message: "connection refused".into(),
                exit_code: Some(1),
            },
            report: None,
        };
        let e = outcome(&r);
        assert_eq!(e.type_, EventType::Warning);
        assert_eq!(e.reason, "BackupFailed");
        assert_eq!(
            e.note.unwrap(),
            "Job webshop-backup-x: PgDumpFailed: connection refused"
        );
    }
}
