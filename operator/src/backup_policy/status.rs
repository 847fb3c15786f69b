//! The BackupPolicy status, computed (pure) from the previous status, the policy's Jobs
//! and the scheduling plan. Each finished Job's result is recorded once
//! (`status.recordedJobs`); failed backups never remove or hide good ones.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tidemark_crd::backup_policy::{
    BackupPolicySpec, BackupPolicyStatus, BackupRecord, CheckResult, DatabaseRunResult,
    FailureRecord, RestoreTestRecord, RunRecord, VerificationRecord,
};
use tidemark_crd::common::JobRef;
use tidemark_crd::contract::result::RunnerReport;
use tidemark_crd::units::human_size;

use super::conditions::{self, ConditionInputs};
use super::decide::{Launch, Plan};
use super::effective::Effective;
use super::inventory;
use super::results::{RunOutcome, RunResult, new_results, recorded_after};
use super::validate::SpecError;
use crate::naming::RunKind;
use crate::runtime::observed::ObservedJob;

/// Everything the status depends on.
#[derive(Clone, Debug)]
pub struct StatusInputs<'a> {
    pub spec: &'a BackupPolicySpec,
    pub generation: Option<i64>,
    pub previous: &'a BackupPolicyStatus,
    pub created: DateTime<Utc>,
    pub jobs: &'a [ObservedJob],
    /// The scheduling plan; `None` when the spec is invalid.
    pub plan: Option<&'a Plan>,
    pub invalid: Option<&'a SpecError>,
    /// The settings in use: the parsed spec's, or for an invalid spec what
    /// [`super::effective::of`] can still derive (`None`: nothing).
    pub effective: Option<Effective>,
    /// Jobs created in this reconcile (not in `jobs` yet).
    pub launched: &'a [Launch],
    pub now: DateTime<Utc>,
}

/// The new status, the results it recorded (for events, metrics and alerts), and when
/// to look again.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusOutcome {
    pub status: BackupPolicyStatus,
    pub recorded: Vec<RunResult>,
    pub wake_at: Option<DateTime<Utc>>,
}

fn failure_record(r: &RunResult) -> Option<FailureRecord> {
    match &r.outcome {
        RunOutcome::Succeeded => None,
        RunOutcome::Failed {
            reason,
            message,
            exit_code,
        } => Some(FailureRecord {
            time: r.finished,
            kind: r.kind.label().to_string(),
            reason: reason.clone(),
            message: message.clone(),
            job_name: Some(r.job_name.clone()),
            exit_code: *exit_code,
        }),
    }
}

fn backup_record(r: &RunResult, report: &RunnerReport) -> Option<BackupRecord> {
    let b = report.backup.as_ref()?;
    Some(BackupRecord {
        key: b.key.clone(),
        started_at: b.started_at,
        completed_at: b.completed_at,
        stored_bytes: i64::try_from(b.stored_size).unwrap_or(i64::MAX),
        raw_bytes: i64::try_from(b.raw_size).unwrap_or(i64::MAX),
        size: human_size(b.stored_size),
        sha256: b.sha256.clone(),
        total_rows: b.total_rows,
        table_count: i32::try_from(b.table_count).unwrap_or(i32::MAX),
        duration_seconds: b.duration_ms as f64 / 1000.0,
        job_name: Some(r.job_name.clone()),
    })
}

/// The per-database outcome of a run of several databases (bounded like the report).
fn run_record(r: &RunResult, report: &RunnerReport) -> Option<RunRecord> {
    let b = report.backup.as_ref()?;
    let id = b.run_id.clone()?;
    let failed = b.databases.iter().filter(|d| !d.ok).count();
    let listed_ok = b.databases.len() - failed;
    let omitted = i32::try_from(b.databases_omitted).unwrap_or(i32::MAX);
    Some(RunRecord {
        id,
        time: r.finished,
        // Omitted databases are the good ones: the runner lists failures first.
        succeeded: i32::try_from(listed_ok)
            .unwrap_or(i32::MAX)
            .saturating_add(omitted),
        failed: i32::try_from(failed).unwrap_or(i32::MAX),
        databases: b
            .databases
            .iter()
            .map(|d| DatabaseRunResult {
                database: d.database.clone(),
                ok: d.ok,
                reason: d.reason.clone(),
                stored_bytes: d.stored_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
                total_rows: d.total_rows,
            })
            .collect(),
        omitted,
        job_name: Some(r.job_name.clone()),
    })
}

fn verification_record(r: &RunResult) -> VerificationRecord {
    let v = r.report.as_ref().and_then(|rep| rep.verify.as_ref());
    VerificationRecord {
        time: r.finished,
        key: v.and_then(|v| v.key.clone()),
        passed: r.succeeded() && v.is_some_and(|v| v.passed()),
        checks: v
            .map(|v| {
                v.checks
                    .iter()
                    .map(|c| CheckResult {
                        name: c.name.as_str().to_string(),
                        passed: c.passed,
                        message: c.message.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        job_name: Some(r.job_name.clone()),
    }
}

fn restore_test_record(r: &RunResult) -> RestoreTestRecord {
    let t = r.report.as_ref().and_then(|rep| rep.restore_test.as_ref());
    let message = match &r.outcome {
        RunOutcome::Succeeded => String::new(),
        RunOutcome::Failed {
            reason, message, ..
        } => {
            if message.is_empty() {
                reason.clone()
            } else {
                format!("{reason}: {message}")
            }
        }
    };
    RestoreTestRecord {
        time: r.finished,
        key: t.map(|t| t.key.clone()),
        passed: r.succeeded() && t.is_some_and(|t| t.mismatch_count == 0),
        tables_compared: t.map_or(0, |t| i32::try_from(t.tables_compared).unwrap_or(i32::MAX)),
        mismatches: t.map(|t| t.mismatches.clone()).unwrap_or_default(),
        restore_duration_seconds: t.map(|t| t.duration_ms as f64 / 1000.0),
        message,
        job_name: Some(r.job_name.clone()),
    }
}

/// Records one finished run into `s`.
pub fn record(s: &mut BackupPolicyStatus, r: &RunResult) {
    if let Some(f) = failure_record(r) {
        s.last_failure = Some(f);
    }
    let report = r.report.as_ref();
    if r.kind == RunKind::Backup
        && let Some(run) = report.and_then(|rep| run_record(r, rep))
    {
        s.last_run = Some(run);
    }
    match r.kind {
        RunKind::Backup if r.succeeded() => {
            s.consecutive_failures = 0;
            if let Some(rec) = report.and_then(|rep| backup_record(r, rep))
                && s.last_backup
                    .as_ref()
                    .is_none_or(|b| b.completed_at <= rec.completed_at)
            {
                s.last_backup = Some(rec);
            }
            if let Some(b) = report.and_then(|rep| rep.backup.as_ref()) {
                inventory::add_backup(&mut s.backups, b);
            }
        }
        RunKind::Backup => {
            s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            // A partial run of several databases: its good databases are backups.
            if let Some(b) = report.and_then(|rep| rep.backup.as_ref()) {
                inventory::add_backup(&mut s.backups, b);
            }
        }
        RunKind::Prune if r.succeeded() => {
            if let Some((p, started)) =
                report.and_then(|rep| Some((rep.prune.as_ref()?, rep.started_at)))
            {
                inventory::apply_prune(&mut s.backups, p, started);
            }
        }
        RunKind::Verify => {
            if let Some(v) = report.and_then(|rep| rep.verify.as_ref()) {
                inventory::apply_verify(&mut s.backups, v);
            }
            s.last_verification = Some(verification_record(r));
        }
        RunKind::RestoreTest => s.last_restore_test = Some(restore_test_record(r)),
        _ => {}
    }
}

fn active_jobs(jobs: &[ObservedJob], launched: &[Launch]) -> Vec<JobRef> {
    let mut active: Vec<JobRef> = jobs
        .iter()
        .filter(|j| !j.state.is_finished())
        .map(|j| JobRef {
            name: j.name.clone(),
            kind: j.kind.map_or("unknown", |k| k.label()).to_string(),
            scheduled_time: j.scheduled,
        })
        .collect();
    for l in launched {
        if !jobs.iter().any(|j| j.name == l.name) {
            active.push(JobRef {
                name: l.name.clone(),
                kind: l.kind().label().to_string(),
                scheduled_time: match &l.trigger {
                    super::jobs::Trigger::Scheduled(t) => Some(*t),
                    super::jobs::Trigger::RunNow(_) => None,
                },
            });
        }
    }
    active.sort_by(|a, b| a.name.cmp(&b.name));
    active
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Computes the new status.
pub fn compute(i: &StatusInputs<'_>, now_k8s: Time) -> StatusOutcome {
    let mut s = i.previous.clone();
    let recorded = new_results(i.jobs, &i.previous.recorded_jobs, i.now);
    for r in &recorded {
        record(&mut s, r);
    }
    s.recorded_jobs = recorded_after(&i.previous.recorded_jobs, i.jobs, &recorded);
    if let Some(plan) = i.plan {
        s.last_schedule_time = plan.last_schedule_time;
        s.last_verification_schedule_time = plan.last_verification_schedule_time;
        s.last_restore_test_schedule_time = plan.last_restore_test_schedule_time;
        s.next_schedule_time = if i.spec.suspend {
            None
        } else {
            plan.next_schedule_time
        };
        if let Some(skip) = plan.skipped.iter().max_by_key(|k| k.scheduled_time) {
            s.last_skipped = Some(skip.clone());
        }
        let handled = &plan.handled;
        if let Some(v) = &handled.spec {
            s.last_run_now = Some(v.clone());
        }
        if let Some(v) = &handled.annotation {
            s.last_run_now_annotation = Some(v.clone());
        }
        if let Some(v) = &handled.immediate {
            s.immediate_backup = Some(v.clone());
        }
    } else {
        s.next_schedule_time = None;
    }
    s.active = active_jobs(i.jobs, i.launched);
    s.backup_count = i32::try_from(s.backups.len()).unwrap_or(i32::MAX);
    s.window = inventory::window(&s.backups);
    s.observed_generation = i.generation;

    let stuck = i
        .jobs
        .iter()
        .filter(|j| !j.state.is_finished())
        .find_map(|j| j.pod_problem.as_ref().map(|p| (j.name.as_str(), p)));
    let verdicts = conditions::verdicts(&ConditionInputs {
        spec: i.spec,
        status: &s,
        invalid: i.invalid,
        effective: i.effective.as_ref(),
        stuck_job: stuck,
        created: i.created,
        now: i.now,
    });
    s.effective = i.effective.map(|e| e.settings());
    s.conditions =
        conditions::to_conditions(verdicts, &i.previous.conditions, i.generation, now_k8s);

    let wake_at = i.plan.and_then(|plan| {
        earliest(
            plan.wake_at,
            conditions::fresh_until(i.effective.as_ref(), &s, i.created, i.now),
        )
    });
    StatusOutcome {
        status: s,
        recorded,
        wake_at,
    }
}
