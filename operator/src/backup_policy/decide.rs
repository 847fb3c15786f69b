//! The scheduling decision of a BackupPolicy: which Jobs to launch now, which runs to
//! record as skipped, and when to look again. Pure: the same inputs always give the
//! same plan, so a restarted operator or a second replica decides the same. It works on
//! a validated spec ([`ParsedSpec`]), so it cannot fail.

use chrono::{DateTime, Duration, Utc};
use tidemark_crd::backup_policy::{BackupPolicyStatus, SkipReason, SkippedRun};

use super::jobs::Trigger;
use super::on_demand;
use super::schedule::{Due, Schedule, due};
use super::validate::ParsedSpec;
use crate::naming::{RunKind, follow_up_job_name, scheduled_job_name};
use crate::runtime::observed::{JobState, ObservedJob};

/// Everything the decision depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub name: &'a str,
    pub spec: &'a ParsedSpec<'a>,
    pub status: &'a BackupPolicyStatus,
    /// The policy's creation time: fire times before it are never due.
    pub created: DateTime<Utc>,
    pub jobs: &'a [ObservedJob],
    pub now: DateTime<Utc>,
    /// The policy's `tidemark.dev/run-now` annotation.
    pub run_now_annotation: Option<&'a str>,
}

/// The Jobs a BackupPolicy launches: every kind its Job builder must handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyJob {
    Backup,
    /// Retention, after the backup Job named here.
    Prune {
        after: String,
    },
    Verify,
    RestoreTest,
}

impl PolicyJob {
    /// The kind of run (Job names, labels, metrics).
    pub fn kind(&self) -> RunKind {
        match self {
            PolicyJob::Backup => RunKind::Backup,
            PolicyJob::Prune { .. } => RunKind::Prune,
            PolicyJob::Verify => RunKind::Verify,
            PolicyJob::RestoreTest => RunKind::RestoreTest,
        }
    }
}

/// A Job to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub job: PolicyJob,
    pub name: String,
    pub trigger: Trigger,
}

impl Launch {
    /// The kind of run.
    pub fn kind(&self) -> RunKind {
        self.job.kind()
    }
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
    /// Verifications and restore tests that are due but wait for a backup or its
    /// retention to finish (so they check the backup that retention keeps): the kind and
    /// the scheduled time.
    pub waiting: Vec<(&'static str, DateTime<Utc>)>,
    /// When to reconcile again at the latest.
    pub wake_at: Option<DateTime<Utc>>,
}

/// How long a due verification or restore test waits at most for a backup of the
/// policy (and its retention) to finish, without `startingDeadlineSeconds`; with it, half
/// of that deadline, so the run still starts within it. After the wait it runs anyway.
pub const MAX_WAIT_FOR_BACKUP: Duration = Duration::hours(1);

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
    job: PolicyJob,
    label: &'static str,
    schedule: &'a Schedule,
    last: Option<DateTime<Utc>>,
    inputs: &'a Inputs<'a>,
}

/// What one track decided.
struct TrackPlan {
    launch: Option<Launch>,
    skipped: Option<SkippedRun>,
    /// Due, waiting for a backup: the scheduled time and when the wait ends.
    waiting: Option<(DateTime<Utc>, DateTime<Utc>)>,
    last: Option<DateTime<Utc>>,
    next: Option<DateTime<Utc>>,
}

impl Track<'_> {
    /// `backup_busy`: a backup of the policy or its retention runs or starts now.
    fn decide(&self, backup_busy: bool) -> TrackPlan {
        let i = self.inputs;
        let deadline = i.spec.spec.starting_deadline_seconds.map(Duration::seconds);
        let mut plan = TrackPlan {
            launch: None,
            skipped: None,
            waiting: None,
            last: self.last,
            next: None,
        };
        let kind = self.job.kind();
        match due(self.schedule, self.last, i.created, i.now, deadline) {
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
                let name = scheduled_job_name(i.name, kind, scheduled);
                let wait_until = scheduled + max_wait(deadline);
                if backup_busy
                    && self.job != PolicyJob::Backup
                    && i.now < wait_until
                    && !exists(i.jobs, &name)
                {
                    // Not recorded as run: decided again when the backup finishes.
                    plan.waiting = Some((scheduled, wait_until));
                    return plan;
                }
                plan.last = Some(scheduled);
                if exists(i.jobs, &name) {
                    // Launched before (e.g. the status write was lost): nothing to do.
                } else if is_active(i.jobs, kind) {
                    plan.skipped = Some(SkippedRun {
                        kind: self.label.to_string(),
                        scheduled_time: scheduled,
                        reason: SkipReason::PreviousRunActive,
                        message: "the previous run was still active".to_string(),
                    });
                } else {
                    plan.launch = Some(Launch {
                        job: self.job.clone(),
                        name,
                        trigger: Trigger::Scheduled(scheduled),
                    });
                }
            }
        }
        plan
    }
}

/// Decides what to do now.
pub fn decide(i: &Inputs<'_>) -> Plan {
    let spec = i.spec.spec;
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
                job: PolicyJob::Prune {
                    after: b.name.clone(),
                },
                name: prune,
                trigger: b
                    .scheduled
                    .map(Trigger::Scheduled)
                    .unwrap_or_else(|| Trigger::RunNow(b.run_now.clone().unwrap_or_default())),
            });
        }
    }

    if spec.suspend {
        // Nothing new starts; freshness is still watched.
        plan.wake_at = freshness_deadline(i);
        return plan;
    }

    // runNow, the run-now annotation and `immediate`: each new request starts one
    // backup, once the previous one finished; one at a time.
    for r in on_demand::pending(i.name, spec, i.status, i.run_now_annotation) {
        if exists(i.jobs, &r.job_name) {
            plan.handled.record(&r);
        } else if !is_active(i.jobs, RunKind::Backup)
            && !plan.launch.iter().any(|l| l.job == PolicyJob::Backup)
        {
            plan.handled.record(&r);
            plan.launch.push(Launch {
                job: PolicyJob::Backup,
                name: r.job_name,
                trigger: Trigger::RunNow(r.trigger),
            });
        }
    }
    let run_now_launched = plan.launch.iter().any(|l| l.job == PolicyJob::Backup);

    let tracks = [
        Some((
            PolicyJob::Backup,
            "backup",
            &i.spec.backup,
            i.status.last_schedule_time,
        )),
        i.spec.verification.as_ref().map(|s| {
            (
                PolicyJob::Verify,
                "verify",
                s,
                i.status.last_verification_schedule_time,
            )
        }),
        i.spec.restore_test.as_ref().map(|s| {
            (
                PolicyJob::RestoreTest,
                "restore-test",
                s,
                i.status.last_restore_test_schedule_time,
            )
        }),
    ];
    for (job, label, schedule, last) in tracks.into_iter().flatten() {
        let track = Track {
            job: job.clone(),
            label,
            schedule,
            last,
            inputs: i,
        };
        // The backup track comes first: a backup it starts now is in `plan.launch`.
        let mut t = track.decide(backup_busy(i, &plan.launch));
        // A runNow backup started now covers this tick: never two backups at once.
        if job == PolicyJob::Backup
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
        if let Some((scheduled, until)) = t.waiting {
            plan.waiting.push((label, scheduled));
            plan.wake_at = earliest(plan.wake_at, Some(until));
        }
        match job {
            PolicyJob::Backup => {
                plan.last_schedule_time = t.last;
                plan.next_schedule_time = t.next;
            }
            PolicyJob::Verify => plan.last_verification_schedule_time = t.last,
            PolicyJob::RestoreTest => plan.last_restore_test_schedule_time = t.last,
            PolicyJob::Prune { .. } => {}
        }
    }
    plan.wake_at = earliest(plan.wake_at, freshness_deadline(i));
    plan
}

/// How long a due verification or restore test may wait for a backup
/// ([`MAX_WAIT_FOR_BACKUP`], or half the starting deadline).
fn max_wait(starting_deadline: Option<Duration>) -> Duration {
    starting_deadline.map_or(MAX_WAIT_FOR_BACKUP, |d| d / 2)
}

/// Whether a backup of the policy or its retention is running, or starts with `launch`:
/// a verification or restore test started now would check a backup that this retention
/// may delete, or miss the one being written.
fn backup_busy(i: &Inputs<'_>, launch: &[Launch]) -> bool {
    let busy = |k: RunKind| k == RunKind::Backup || k == RunKind::Prune;
    launch.iter().any(|l| busy(l.kind()))
        || i.jobs
            .iter()
            .any(|j| j.kind.is_some_and(busy) && !j.state.is_finished())
}

/// When `BackupFresh` turns False if no new backup arrives, if still in the future.
pub fn freshness_deadline(i: &Inputs<'_>) -> Option<DateTime<Utc>> {
    let rpo = i.spec.effective.rpo;
    let last = i.status.last_backup.as_ref()?.completed_at;
    Some(last + rpo).filter(|t| *t > i.now)
}
