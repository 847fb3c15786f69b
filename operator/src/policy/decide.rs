//! The scheduling decision of a BackupPolicy: which Jobs to launch now, which runs to
//! record as skipped, and when to look again. Pure: the same inputs always give the
//! same plan, so a restarted operator or a second replica decides the same.

use chrono::{DateTime, Duration, Utc};
use tidemark_crd::backup_policy::{BackupPolicySpec, BackupPolicyStatus, SkipReason, SkippedRun};

use super::observed::{JobState, ObservedJob};
use super::on_demand;
use crate::jobs::policy::Trigger;
use crate::naming::{RunKind, follow_up_job_name, scheduled_job_name};
use crate::schedule::{Due, Schedule, ScheduleError, due};

/// Everything the decision depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub name: &'a str,
    pub spec: &'a BackupPolicySpec,
    pub status: &'a BackupPolicyStatus,
    /// The policy's creation time: fire times before it are never due.
    pub created: DateTime<Utc>,
    pub jobs: &'a [ObservedJob],
    pub now: DateTime<Utc>,
    /// The policy's `tidemark.dev/run-now` annotation.
    pub run_now_annotation: Option<&'a str>,
}

/// A Job to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub kind: RunKind,
    pub name: String,
    pub trigger: Trigger,
    /// For follow-up Jobs (prune): the Job they follow.
    pub after: Option<String>,
}

/// The outcome of a decision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub launch: Vec<Launch>,
    pub skipped: Vec<SkippedRun>,
    pub last_schedule_time: Option<DateTime<Utc>>,
    pub last_verification_schedule_time: Option<DateTime<Utc>>,
    pub last_restore_test_schedule_time: Option<DateTime<Utc>>,
    pub next_schedule_time: Option<DateTime<Utc>>,
    /// The on-demand requests (`runNow`, annotation, `immediate`) handled by this plan
    /// (to echo in status).
    pub handled: on_demand::Handled,
    /// When to reconcile again at the latest.
    pub wake_at: Option<DateTime<Utc>>,
}

fn exists(jobs: &[ObservedJob], name: &str) -> bool {
    jobs.iter().any(|j| j.name == name)
}

fn is_active(jobs: &[ObservedJob], kind: RunKind) -> bool {
    jobs.iter()
        .any(|j| j.kind == Some(kind) && !j.state.is_finished())
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One schedule (backup, verification or restore test) evaluated against its Jobs.
struct Track<'a> {
    kind: RunKind,
    label: &'static str,
    schedule: Schedule,
    last: Option<DateTime<Utc>>,
    inputs: &'a Inputs<'a>,
}

/// What one track decided.
struct TrackPlan {
    launch: Option<Launch>,
    skipped: Option<SkippedRun>,
    last: Option<DateTime<Utc>>,
    next: Option<DateTime<Utc>>,
}

impl Track<'_> {
    fn decide(&self) -> TrackPlan {
        let i = self.inputs;
        let deadline = i.spec.starting_deadline_seconds.map(Duration::seconds);
        let mut plan = TrackPlan {
            launch: None,
            skipped: None,
            last: self.last,
            next: None,
        };
        match due(&self.schedule, self.last, i.created, i.now, deadline) {
            Due::NotDue { next } => plan.next = next,
            Due::Missed { scheduled, next } => {
                plan.next = next;
                plan.last = Some(scheduled);
                plan.skipped = Some(SkippedRun {
                    kind: self.label.to_string(),
                    scheduled_time: scheduled,
                    reason: SkipReason::MissedStartingDeadline,
                    message: format!(
                        "started {}s late, beyond startingDeadlineSeconds",
                        (i.now - scheduled).num_seconds()
                    ),
                });
            }
            Due::Run { scheduled, next } => {
                plan.next = next;
                plan.last = Some(scheduled);
                let name = scheduled_job_name(i.name, self.kind, scheduled);
                if exists(i.jobs, &name) {
                    // Launched before (e.g. the status write was lost): nothing to do.
                } else if is_active(i.jobs, self.kind) {
                    plan.skipped = Some(SkippedRun {
                        kind: self.label.to_string(),
                        scheduled_time: scheduled,
                        reason: SkipReason::PreviousRunActive,
                        message: "the previous run was still active".to_string(),
                    });
                } else {
                    plan.launch = Some(Launch {
                        kind: self.kind,
                        name,
                        trigger: Trigger::Scheduled(scheduled),
                        after: None,
                    });
                }
            }
        }
        plan
    }
}

/// Decides what to do now.
pub fn decide(i: &Inputs<'_>) -> Result<Plan, ScheduleError> {
    let spec = i.spec;
    let tz = spec.time_zone.as_str();
    let backup = Schedule::parse(&spec.schedule, tz, "spec.schedule", "spec.timeZone")?;
    let verification = if spec.verification.enabled {
        Some(Schedule::parse(
            &spec.verification.schedule,
            tz,
            "spec.verification.schedule",
            "spec.timeZone",
        )?)
    } else {
        None
    };
    let restore_test = match &spec.restore_test {
        Some(rt) if rt.enabled => Some(Schedule::parse(
            &rt.schedule,
            tz,
            "spec.restoreTest.schedule",
            "spec.timeZone",
        )?),
        _ => None,
    };

    let mut plan = Plan {
        last_schedule_time: i.status.last_schedule_time,
        last_verification_schedule_time: i.status.last_verification_schedule_time,
        last_restore_test_schedule_time: i.status.last_restore_test_schedule_time,
        ..Plan::default()
    };

    // Retention follows the newest successful backup not recorded yet, never a failed
    // one. (Among all successes, Job times of one second's precision could pick an older
    // backup whose prune already ran and leave the new one without retention.)
    let newest_success = i
        .jobs
        .iter()
        .filter(|j| j.kind == Some(RunKind::Backup) && matches!(j.state, JobState::Succeeded(_)))
        .filter(|j| !i.status.recorded_jobs.contains(&j.name))
        .max_by(|a, b| (a.finished, &a.name).cmp(&(b.finished, &b.name)));
    if let Some(b) = newest_success {
        let prune = follow_up_job_name(&b.name, RunKind::Prune);
        if !exists(i.jobs, &prune) {
            plan.launch.push(Launch {
                kind: RunKind::Prune,
                name: prune,
                trigger: b
                    .scheduled
                    .map(Trigger::Scheduled)
                    .unwrap_or_else(|| Trigger::RunNow(b.run_now.clone().unwrap_or_default())),
                after: Some(b.name.clone()),
            });
        }
    }

    if spec.suspend {
        // Nothing new starts; freshness is still watched.
        plan.wake_at = freshness_deadline(i);
        return Ok(plan);
    }

    // runNow, the run-now annotation and `immediate`: each new request starts one
    // backup, once the previous one finished; one at a time.
    for r in on_demand::pending(i.name, spec, i.status, i.run_now_annotation) {
        if exists(i.jobs, &r.job_name) {
            plan.handled.record(&r);
        } else if !is_active(i.jobs, RunKind::Backup)
            && !plan.launch.iter().any(|l| l.kind == RunKind::Backup)
        {
            plan.handled.record(&r);
            plan.launch.push(Launch {
                kind: RunKind::Backup,
                name: r.job_name,
                trigger: Trigger::RunNow(r.trigger),
                after: None,
            });
        }
    }
    let run_now_launched = plan.launch.iter().any(|l| l.kind == RunKind::Backup);

    let tracks = [
        Some((
            RunKind::Backup,
            "backup",
            backup,
            i.status.last_schedule_time,
        )),
        verification.map(|s| {
            (
                RunKind::Verify,
                "verify",
                s,
                i.status.last_verification_schedule_time,
            )
        }),
        restore_test.map(|s| {
            (
                RunKind::RestoreTest,
                "restore-test",
                s,
                i.status.last_restore_test_schedule_time,
            )
        }),
    ];
    for (kind, label, schedule, last) in tracks.into_iter().flatten() {
        let track = Track {
            kind,
            label,
            schedule,
            last,
            inputs: i,
        };
        let mut t = track.decide();
        // A runNow backup started now covers this tick: never two backups at once.
        if kind == RunKind::Backup
            && run_now_launched
            && let Some(Launch {
                trigger: Trigger::Scheduled(at),
                ..
            }) = t.launch.take()
        {
            t.skipped = Some(SkippedRun {
                kind: label.to_string(),
                scheduled_time: at,
                reason: SkipReason::PreviousRunActive,
                message: "a runNow backup started at the same time".to_string(),
            });
        }
        plan.launch.extend(t.launch);
        plan.skipped.extend(t.skipped);
        plan.wake_at = earliest(plan.wake_at, t.next);
        match kind {
            RunKind::Backup => {
                plan.last_schedule_time = t.last;
                plan.next_schedule_time = t.next;
            }
            RunKind::Verify => plan.last_verification_schedule_time = t.last,
            _ => plan.last_restore_test_schedule_time = t.last,
        }
    }
    plan.wake_at = earliest(plan.wake_at, freshness_deadline(i));
    Ok(plan)
}

/// When `BackupFresh` turns False if no new backup arrives, if still in the future.
pub fn freshness_deadline(i: &Inputs<'_>) -> Option<DateTime<Utc>> {
    let rpo = super::effective::of(i.spec)?.rpo;
    let last = i.status.last_backup.as_ref()?.completed_at;
    Some(last + rpo).filter(|t| *t > i.now)
}
