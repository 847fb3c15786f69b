//! The RestoreRequest phase machine, transition by transition: resolving, stopping and
//! restarting writers, the Jobs, verification, failures, and an operator restarted in
//! the middle (the status is its memory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use tidemark_crd::backup_policy::{BackupPolicyStatus, BackupRecord, InventoryEntry};
use tidemark_crd::common::TableMismatch;
use tidemark_crd::contract::result::{
    ErrorKind, ListResult, ListedBackup, Outcome, ReportedError, RestoreResult, RunnerCommand,
    RunnerReport,
};
use tidemark_crd::restore_request::{
    ExplicitSource, RestorePhase, RestoreRequestSpec, RestoreRequestStatus, RestoreSource,
    WorkloadKind,
};
use tidemark_crd::{BackupPolicy, RestoreRequest};
use tidemark_operator::naming::RunKind;
use tidemark_operator::restore_request::decide::decide;
use tidemark_operator::restore_request::observed::{Inputs, PolicyView, Workload, WorkloadState};
use tidemark_operator::restore_request::step::{Action, Step};
use tidemark_operator::runtime::observed::{JobState, ObservedJob, PodProblem};

mod support;
use support::fixtures::example;

const NEWEST: &str = "postgres/webshop/webshop/20261123T090000Z.dump.zst.age";
const OLDER: &str = "postgres/webshop/webshop/20261123T080000Z.dump.zst.age";
const LAST: &str = "postgres/webshop/webshop/20261123T100000Z.dump.zst.age";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn entry(key: &str, completed: &str) -> InventoryEntry {
    InventoryEntry {
        key: key.into(),
        completed_at: t(completed),
        stored_bytes: 1_000,
        sha256: format!("sha-{completed}"),
        ..InventoryEntry::default()
    }
}

fn policy() -> BackupPolicy {
    let mut p: BackupPolicy = example("webshop-hourly.yaml");
    p.status = Some(BackupPolicyStatus {
        backups: vec![
            entry(NEWEST, "2026-11-23T09:00:40Z"),
            entry(OLDER, "2026-11-23T08:00:40Z"),
        ],
        ..BackupPolicyStatus::default()
    });
    p
}

/// A world the decisions run against; `step` applies a decision like the reconciler.
struct World {
    spec: RestoreRequestSpec,
    status: RestoreRequestStatus,
    policy: Option<BackupPolicy>,
    jobs: Vec<ObservedJob>,
    writers: Vec<Workload>,
    now: DateTime<Utc>,
    deleting: bool,
}

impl World {
    fn new(file: &str) -> Self {
        let rr: RestoreRequest = example(file);
        let writers = rr
            .spec
            .stop_writers
            .iter()
            .map(|w| Workload {
                kind: w.kind,
                name: w.name.clone(),
                state: WorkloadState::Present {
                    replicas: 3,
                    pods: 3,
                },
            })
            .collect();
        Self {
            spec: rr.spec,
            status: RestoreRequestStatus::default(),
            policy: Some(policy()),
            jobs: Vec::new(),
            writers,
            now: t("2026-11-23T10:30:00Z"),
            deleting: false,
        }
    }

    fn decide(&self) -> Step {
        let policy = match (&self.spec.source.policy_ref, &self.policy) {
            (None, _) => PolicyView::NotReferenced,
            (Some(_), None) => PolicyView::Missing,
            (Some(_), Some(p)) => PolicyView::Found(p),
        };
        decide(&Inputs {
            name: "rr",
            namespace: "webshop",
            generation: Some(1),
            spec: &self.spec,
            status: &self.status,
            policy,
            jobs: &self.jobs,
            writers: &self.writers,
            deleting: self.deleting,
            now: self.now,
        })
    }

    /// Decides, writes the status, then acts (Jobs appear active, scaling is immediate
    /// but pods go away only when `pods_gone` is called).
    fn step(&mut self) -> Step {
        let step = self.decide();
        if let Some(s) = &step.status {
            self.status = s.clone();
        }
        for a in &step.actions {
            match a {
                Action::CreateJob { kind, name } => {
                    if !self.jobs.iter().any(|j| j.name == *name) {
                        self.jobs.push(job(name, *kind, JobState::Active));
                    }
                }
                Action::DeleteJob { name } => self.jobs.retain(|j| j.name != *name),
                Action::Scale {
                    kind,
                    name,
                    replicas,
                } => {
                    let w = self
                        .writers
                        .iter_mut()
                        .find(|w| w.kind == *kind && w.name == *name)
                        .unwrap();
                    if let WorkloadState::Present { pods, .. } = w.state {
                        w.state = WorkloadState::Present {
                            replicas: *replicas,
                            pods: pods.max(u32::try_from(*replicas).unwrap()),
                        };
                    }
                }
            }
        }
        self.now += Duration::seconds(5);
        step
    }

    fn pods_gone(&mut self) {
        for w in &mut self.writers {
            if let WorkloadState::Present { replicas, .. } = w.state {
                w.state = WorkloadState::Present {
                    replicas,
                    pods: u32::try_from(replicas).unwrap(),
                };
            }
        }
    }

    fn finish_job(&mut self, kind: RunKind, state: JobState) {
        let j = self.jobs.iter_mut().find(|j| j.kind == Some(kind)).unwrap();
        j.state = state;
        j.finished = Some(self.now);
    }

    /// Runs to Restoring and creates the restore Job (it appears active).
    fn start_restore(&mut self) {
        self.run_to(RestorePhase::Restoring);
        self.step();
    }

    /// The pod of the Job of `kind` cannot start (`reason` and `message` as the kubelet
    /// reports them).
    fn block_pod(&mut self, kind: RunKind, reason: &str, message: &str) {
        let j = self.jobs.iter_mut().find(|j| j.kind == Some(kind)).unwrap();
        j.pod_problem = Some(PodProblem {
            reason: reason.into(),
            message: message.into(),
        });
    }

    fn replicas(&self, name: &str) -> i32 {
        match self.writers.iter().find(|w| w.name == name).unwrap().state {
            WorkloadState::Present { replicas, .. } => replicas,
            WorkloadState::Missing => -1,
        }
    }

    fn condition(&self, type_: &str) -> (String, String, String) {
        let c = self
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no condition {type_}"));
        (c.status.clone(), c.reason.clone(), c.message.clone())
    }

    /// Steps until the phase is `phase` (at most 20 steps).
    fn run_to(&mut self, phase: RestorePhase) {
        for _ in 0..20 {
            if self.status.phase == phase {
                return;
            }
            self.step();
            self.pods_gone();
        }
        panic!("never reached {phase:?}: {:?}", self.status);
    }
}

fn job(name: &str, kind: RunKind, state: JobState) -> ObservedJob {
    ObservedJob {
        name: name.into(),
        kind: Some(kind),
        scheduled: None,
        run_now: None,
        created: None,
        finished: None,
        state,
        pod_problem: None,
    }
}

fn report(command: RunnerCommand) -> RunnerReport {
    RunnerReport::new(command, t("2026-11-23T10:30:00Z"), "0.1.0")
}

fn restore_result(mismatches: Vec<TableMismatch>) -> RestoreResult {
    RestoreResult {
        key: NEWEST.into(),
        sha256: "sha".into(),
        backup_completed_at: t("2026-11-23T09:00:40Z"),
        stored_size: 1_000,
        target_database: "webshop".into(),
        database_created: false,
        roles_created: vec![],
        database_settings_restored: false,
        content: "Full".into(),
        tables_restored: 12,
        tables_compared: 12,
        mismatch_count: u32::try_from(mismatches.len()).unwrap(),
        mismatches,
        duration_ms: 4_200,
        parallelism: 2,
    }
}

fn restored_ok() -> JobState {
    let mut r = report(RunnerCommand::Restore);
    r.restore = Some(restore_result(Vec::new()));
    JobState::Succeeded(Some(r))
}

fn runner_failed(command: RunnerCommand, reason: &str, message: &str) -> JobState {
    let mut r = report(command);
    r.outcome = Outcome::Failed;
    r.error = Some(ReportedError {
        kind: ErrorKind::Config,
        reason: reason.into(),
        message: message.into(),
    });
    JobState::Failed {
        reason: "BackoffLimitExceeded".into(),
        message: "Job has reached the specified backoff limit".into(),
        report: Some(r),
        exit_code: Some(2),
    }
}

fn scaled(step: &Step) -> Vec<(String, i32)> {
    step.actions
        .iter()
        .filter_map(|a| match a {
            Action::Scale { name, replicas, .. } => Some((name.clone(), *replicas)),
            _ => None,
        })
        .collect()
}

fn created(step: &Step) -> Vec<RunKind> {
    step.actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateJob { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect()
}

// ---- Pending and Resolving -------------------------------------------------------

#[test]
fn pending_starts_the_clock_and_resolves_next() {
    let mut w = World::new("restore-latest.yaml");
    let step = w.step();
    assert!(step.actions.is_empty());
    assert_eq!(w.status.phase, RestorePhase::Resolving);
    assert_eq!(w.status.started_at, Some(t("2026-11-23T10:30:00Z")));
    assert_eq!(w.status.phase_timings.len(), 1);
    assert_eq!(w.condition("Succeeded").0, "Unknown");
}

#[test]
fn latest_resolves_from_the_inventory_including_last_backup_before_touching_anything() {
    let mut w = World::new("restore-latest.yaml");
    w.policy
        .as_mut()
        .unwrap()
        .status
        .as_mut()
        .unwrap()
        .last_backup = Some(BackupRecord {
        key: LAST.into(),
        completed_at: t("2026-11-23T10:00:30Z"),
        sha256: "sha-last".into(),
        stored_bytes: 2_000,
        ..BackupRecord::default()
    });
    w.step();
    let step = w.step();
    assert!(
        step.actions.is_empty(),
        "resolving touches nothing: {step:?}"
    );
    let resolved = step.status.unwrap().resolved_backup.unwrap();
    assert_eq!(resolved.key, LAST);
    assert_eq!(resolved.sha256, "sha-last");
    assert_eq!(resolved.completed_at, t("2026-11-23T10:00:30Z"));
    assert_eq!(w.status.phase, RestorePhase::StoppingWriters);
    assert!(w.status.writers.is_empty(), "writers are not saved yet");
}

#[test]
fn before_picks_the_newest_backup_completed_strictly_before_the_time() {
    let mut w = World::new("restore-before-time.yaml");
    w.spec.mode.clean = Some(true);
    w.spec.backup.before = Some(t("2026-11-23T09:00:40Z"));
    w.run_to(RestorePhase::Restoring);
    assert_eq!(w.status.resolved_backup.as_ref().unwrap().key, OLDER);
    // No writers listed: straight from Resolving to Restoring.
    assert!(
        !w.status
            .phase_timings
            .iter()
            .any(|p| p.phase == RestorePhase::StoppingWriters)
    );
}

#[test]
fn a_key_missing_from_the_inventory_is_asked_of_a_list_job() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.backup.latest = None;
    w.spec.backup.key = Some("20261123T110000Z.dump.zst.age".into());
    w.step();
    let step = w.step();
    assert_eq!(created(&step), vec![RunKind::List]);
    assert_eq!(w.status.phase, RestorePhase::Resolving);
    // While it runs, nothing else happens; its name is recorded once seen.
    let step = w.step();
    assert!(step.actions.is_empty());
    assert_eq!(
        w.status.jobs.as_ref().unwrap().list.as_deref(),
        Some("rr-list")
    );
    let mut r = report(RunnerCommand::List);
    r.list = Some(ListResult {
        count: 3,
        broken_count: 0,
        broken: Vec::new(),
        total_stored_bytes: 3_000,
        oldest: None,
        newest: None,
        selected: Some(ListedBackup {
            key: "postgres/webshop/webshop/20261123T110000Z.dump.zst.age".into(),
            completed_at: t("2026-11-23T11:00:20Z"),
            stored_size: 1_234,
            sha256: "abc".into(),
        }),
    });
    w.finish_job(RunKind::List, JobState::Succeeded(Some(r)));
    let step = w.step();
    assert!(step.actions.is_empty());
    let b = w.status.resolved_backup.as_ref().unwrap();
    assert_eq!(b.sha256, "abc");
    assert_eq!(b.stored_bytes, Some(1_234));
    assert_eq!(w.status.phase, RestorePhase::StoppingWriters);
}

/// A request for the latest backup of an explicit source (no policy), its list Job
/// created.
fn explicit_source_listing() -> World {
    let mut w = World::new("restore-latest.yaml");
    w.spec.source = RestoreSource {
        policy_ref: None,
        explicit: Some(ExplicitSource {
            s3: policy().spec.s3,
            policy_namespace: "old".into(),
            policy_name: "shop".into(),
        }),
    };
    w.policy = None;
    w.step();
    assert_eq!(created(&w.step()), vec![RunKind::List]);
    w
}

#[test]
fn an_explicit_source_is_resolved_by_a_list_job_and_no_match_fails_touching_nothing() {
    let mut w = explicit_source_listing();
    w.finish_job(
        RunKind::List,
        runner_failed(RunnerCommand::List, "NoBackupFound", "no manifests"),
    );
    let step = w.step();
    assert!(scaled(&step).is_empty());
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("NoMatchingBackup"));
    let message = w.status.message.clone().unwrap();
    assert!(message.starts_with("backup.latest:"), "{message}");
    assert!(
        message.contains("s3://webshop-backups/postgres/old/shop/"),
        "{message}"
    );
    assert!(w.status.writers.is_empty());
    assert!(w.status.resolved_backup.is_none());
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn a_broken_named_backup_fails_as_incomplete_touching_nothing() {
    let mut w = explicit_source_listing();
    w.finish_job(
        RunKind::List,
        runner_failed(
            RunnerCommand::List,
            "BackupIncomplete",
            "backup 20261123T100000Z: data object is missing",
        ),
    );
    let step = w.step();
    assert!(scaled(&step).is_empty());
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("BackupIncomplete"));
    let message = w.status.message.clone().unwrap();
    assert!(message.starts_with("backup ("), "{message}");
    assert!(message.contains("data object is missing"), "{message}");
    assert!(w.status.resolved_backup.is_none());
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn a_list_that_selects_nothing_names_the_before_field() {
    let mut w = World::new("restore-before-time.yaml");
    w.spec.backup.before = Some(t("2026-01-01T00:00:00Z"));
    w.step();
    w.step();
    let mut r = report(RunnerCommand::List);
    r.list = Some(ListResult {
        count: 0,
        broken_count: 0,
        broken: Vec::new(),
        total_stored_bytes: 0,
        oldest: None,
        newest: None,
        selected: None,
    });
    w.finish_job(RunKind::List, JobState::Succeeded(Some(r)));
    w.step();
    assert_eq!(w.status.phase, RestorePhase::Failed);
    let (status, reason, message) = w.condition("Succeeded");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "NoMatchingBackup")
    );
    assert!(message.starts_with("backup.before:"), "{message}");
    assert!(message.contains("2026-01-01T00:00:00Z"), "{message}");
}

#[test]
fn an_unknown_policy_fails_at_once_touching_nothing() {
    let mut w = World::new("restore-latest.yaml");
    w.policy = None;
    w.step();
    let step = w.step();
    assert!(step.actions.is_empty());
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("PolicyNotFound"));
    assert_eq!(
        w.status.message.as_deref(),
        Some("source.policyRef.name: BackupPolicy \"webshop\" not found in namespace \"webshop\"")
    );
    assert!(w.status.completed_at.is_some() && w.status.duration.is_some());
    assert_eq!(w.condition("Verified").0, "False");
}

// ---- Writers ---------------------------------------------------------------------

#[test]
fn writers_replicas_are_saved_in_the_same_status_write_before_scaling_to_zero() {
    let mut w = World::new("restore-latest.yaml");
    w.writers[1].state = WorkloadState::Present {
        replicas: 5,
        pods: 5,
    };
    w.run_to(RestorePhase::StoppingWriters);
    let step = w.step();
    let saved = &step
        .status
        .as_ref()
        .expect("status is written first")
        .writers;
    let saved: Vec<_> = saved
        .iter()
        .map(|s| (s.name.as_str(), s.previous_replicas, s.restarted))
        .collect();
    assert_eq!(
        saved,
        vec![("webshop-backend", 3, false), ("webshop-worker", 5, false)]
    );
    assert_eq!(
        scaled(&step),
        vec![("webshop-backend".into(), 0), ("webshop-worker".into(), 0)]
    );
}

#[test]
fn the_restore_waits_until_the_writers_pods_are_gone() {
    let mut w = World::new("restore-latest.yaml");
    w.run_to(RestorePhase::StoppingWriters);
    w.step();
    // Replicas are 0 but pods still run: no restore Job yet.
    for _ in 0..3 {
        let step = w.step();
        assert!(created(&step).is_empty());
        assert_eq!(w.status.phase, RestorePhase::StoppingWriters);
    }
    assert!(
        w.status
            .message
            .clone()
            .unwrap()
            .contains("waiting for the pods")
    );
    w.pods_gone();
    w.step();
    assert_eq!(w.status.phase, RestorePhase::Restoring);
}

#[test]
fn a_writer_scaled_up_by_someone_else_while_stopping_is_scaled_down_again() {
    let mut w = World::new("restore-latest.yaml");
    w.run_to(RestorePhase::StoppingWriters);
    w.step();
    w.writers[0].state = WorkloadState::Present {
        replicas: 2,
        pods: 2,
    };
    let step = w.step();
    assert_eq!(scaled(&step), vec![("webshop-backend".into(), 0)]);
    // The saved count is still the original one.
    assert_eq!(w.status.writers[0].previous_replicas, 3);
}

#[test]
fn a_writer_that_does_not_exist_fails_before_anything_is_scaled() {
    let mut w = World::new("restore-latest.yaml");
    w.writers[1].state = WorkloadState::Missing;
    w.run_to(RestorePhase::StoppingWriters);
    let step = w.step();
    assert!(scaled(&step).is_empty());
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("WriterNotFound"));
    assert_eq!(
        w.status.message.as_deref(),
        Some("stopWriters[1]: Deployment \"webshop-worker\" not found in namespace \"webshop\"")
    );
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn an_operator_restarted_after_scaling_keeps_the_saved_counts_not_the_zero_it_sees() {
    let mut w = World::new("restore-latest.yaml");
    w.run_to(RestorePhase::StoppingWriters);
    w.step();
    // A new operator process: it only has the status and what it observes (0 replicas).
    let status = w.status.clone();
    let mut fresh = World::new("restore-latest.yaml");
    fresh.status = status;
    fresh.now = w.now;
    fresh.writers = w.writers.clone();
    fresh.pods_gone();
    fresh.run_to(RestorePhase::Restoring);
    assert_eq!(fresh.status.writers[0].previous_replicas, 3);
    assert_eq!(fresh.replicas("webshop-backend"), 0);
    fresh.step();
    fresh.finish_job(RunKind::Restore, restored_ok());
    fresh.run_to(RestorePhase::Succeeded);
    assert_eq!(fresh.replicas("webshop-backend"), 3);
    assert_eq!(fresh.replicas("webshop-worker"), 3);
}

// ---- Restoring -------------------------------------------------------------------

#[test]
fn the_restore_job_is_created_once_and_an_operator_restart_does_not_run_it_again() {
    let mut w = World::new("restore-latest.yaml");
    w.run_to(RestorePhase::Restoring);
    let step = w.step();
    assert_eq!(created(&step), vec![RunKind::Restore]);
    // The Job runs; every further decision (also by a restarted operator) just waits.
    for _ in 0..3 {
        let step = w.step();
        assert!(step.actions.is_empty(), "{step:?}");
    }
    assert_eq!(
        w.status.jobs.as_ref().unwrap().restore.as_deref(),
        Some("rr-restore")
    );
    w.finish_job(RunKind::Restore, restored_ok());
    w.step();
    assert_eq!(w.status.phase, RestorePhase::Verifying);
    assert_eq!(w.status.tables_restored, Some(12));
    assert_eq!(w.status.tables_compared, Some(12));
}

#[test]
fn a_restore_job_that_vanished_after_being_seen_is_not_run_again() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.step();
    w.jobs.clear();
    let step = w.step();
    assert!(created(&step).is_empty());
    assert_eq!(w.status.reason.as_deref(), Some("JobVanished"));
    assert_eq!(w.status.phase, RestorePhase::RestartingWriters);
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn a_failed_restore_restarts_the_writers_and_ends_failed_naming_the_field() {
    let mut w = World::new("restore-latest.yaml");
    w.writers[1].state = WorkloadState::Present {
        replicas: 2,
        pods: 2,
    };
    w.start_restore();
    w.finish_job(
        RunKind::Restore,
        runner_failed(
            RunnerCommand::Restore,
            "InvalidConfig",
            "TIDEMARK_AGE_IDENTITY does not match any recipient the backup is encrypted to",
        ),
    );
    let step = w.step();
    assert_eq!(w.status.phase, RestorePhase::RestartingWriters);
    assert_eq!(w.condition("Succeeded").0, "False");
    assert!(created(&step).is_empty());
    let step = w.step();
    assert_eq!(
        scaled(&step),
        vec![("webshop-backend".into(), 3), ("webshop-worker".into(), 2)]
    );
    w.step();
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert!(w.status.writers.iter().all(|s| s.restarted));
    assert_eq!(w.status.reason.as_deref(), Some("InvalidConfig"));
    let message = w.status.message.clone().unwrap();
    assert!(message.starts_with("decryptionIdentitySecretRef: restore Job rr-restore failed (InvalidConfig, exit code 2)"), "{message}");
    assert!(message.contains("writers restored"), "{message}");
    let timings: Vec<_> = w.status.phase_timings.iter().map(|p| p.phase).collect();
    assert_eq!(
        timings,
        vec![
            RestorePhase::Resolving,
            RestorePhase::StoppingWriters,
            RestorePhase::Restoring,
            RestorePhase::RestartingWriters
        ]
    );
    assert!(
        w.status
            .phase_timings
            .iter()
            .all(|p| p.duration_seconds.is_some())
    );
    // Finished: nothing more, ever.
    assert_eq!(w.step(), Step::idle());
}

#[test]
fn a_corrupt_backup_points_at_the_backup() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.finish_job(
        RunKind::Restore,
        runner_failed(
            RunnerCommand::Restore,
            "CorruptBackup",
            "SHA-256 mismatch; rolled back",
        ),
    );
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("CorruptBackup"));
    assert!(
        w.status
            .message
            .clone()
            .unwrap()
            .starts_with("backup (the stored object is damaged): ")
    );
    assert_eq!(w.replicas("webshop-worker"), 3);
}

#[test]
fn a_pod_blocked_by_a_missing_secret_fails_at_once_names_the_field_and_deletes_the_job() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.block_pod(
        RunKind::Restore,
        "CreateContainerConfigError",
        "secret \"webshop-db\" not found",
    );
    let step = w.step();
    assert_eq!(
        step.actions,
        vec![Action::DeleteJob {
            name: "rr-restore".into()
        }]
    );
    let message = w.status.message.clone().unwrap();
    assert!(
        message.starts_with("target.connection.userSecretRef, target.connection.passwordSecretRef: the restore Job rr-restore cannot start (CreateContainerConfigError)"),
        "{message}"
    );
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn writers_come_back_only_after_a_running_restore_job_is_gone() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.now = w.status.started_at.unwrap() + Duration::seconds(3_600);
    // Deadline: the running Job is deleted; in the real cluster it may linger a while.
    let step = w.step();
    assert_eq!(w.status.reason.as_deref(), Some("DeadlineExceeded"));
    assert!(
        w.status
            .message
            .clone()
            .unwrap()
            .starts_with("spec.deadlineSeconds:")
    );
    assert!(step.actions.contains(&Action::DeleteJob {
        name: "rr-restore".into()
    }));
    w.jobs
        .push(job("rr-restore", RunKind::Restore, JobState::Active));
    let step = w.step();
    assert!(scaled(&step).is_empty(), "{step:?}");
    assert_eq!(w.replicas("webshop-backend"), 0);
    w.jobs.clear();
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn the_deadline_is_when_the_controller_looks_again_at_the_latest() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.now = w.status.started_at.unwrap() + Duration::seconds(3_590);
    let step = w.step();
    assert_eq!(step.requeue_after, Some(std::time::Duration::from_secs(10)));
}

// ---- Post-restore and verification -----------------------------------------------

#[test]
fn the_post_restore_job_runs_after_the_restore_and_before_verification() {
    let mut w = World::new("restore-after-failed-migration.yaml");
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.step();
    assert_eq!(w.status.phase, RestorePhase::PostRestore);
    let step = w.step();
    assert_eq!(created(&step), vec![RunKind::PostRestore]);
    w.step();
    w.finish_job(RunKind::PostRestore, JobState::Succeeded(None));
    w.step();
    assert_eq!(w.status.phase, RestorePhase::Verifying);
    assert_eq!(
        w.status.jobs.as_ref().unwrap().post_restore.as_deref(),
        Some("rr-post")
    );
    w.run_to(RestorePhase::Succeeded);
}

#[test]
fn a_failed_post_restore_fails_the_request_and_restarts_the_writers() {
    let mut w = World::new("restore-after-failed-migration.yaml");
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::PostRestore);
    w.step();
    w.finish_job(
        RunKind::PostRestore,
        JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: "Job has reached the specified backoff limit".into(),
            report: None,
            exit_code: Some(1),
        },
    );
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("PostRestoreFailed"));
    let message = w.status.message.clone().unwrap();
    assert!(
        message.starts_with(
            "postRestore: post-restore Job rr-post failed (BackoffLimitExceeded, exit code 1)"
        ),
        "{message}"
    );
    assert_eq!(w.replicas("webshop-backend"), 3);
    assert_eq!(w.replicas("webshop-worker"), 3);
}

#[test]
fn row_count_mismatches_fail_verification() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    let mut r = report(RunnerCommand::Restore);
    r.restore = Some(restore_result(vec![TableMismatch {
        table: "public.orders".into(),
        expected: 10,
        actual: 8,
    }]));
    w.finish_job(RunKind::Restore, JobState::Succeeded(Some(r)));
    w.run_to(RestorePhase::Failed);
    let (status, reason, message) = w.condition("Verified");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RowCountMismatch")
    );
    assert!(
        message.contains("public.orders expected 10 rows, found 8"),
        "{message}"
    );
    assert_eq!(w.status.mismatches.len(), 1);
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn a_restore_job_that_failed_on_row_counts_records_the_mismatches() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    let mut r = report(RunnerCommand::Restore);
    r.outcome = Outcome::Failed;
    r.restore = Some(restore_result(vec![TableMismatch {
        table: "public.order_items".into(),
        expected: 5,
        actual: -1,
    }]));
    r.error = Some(ReportedError {
        kind: ErrorKind::Check,
        reason: "RowCountMismatch".into(),
        message: "1 table differs".into(),
    });
    w.finish_job(
        RunKind::Restore,
        JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: String::new(),
            report: Some(r),
            exit_code: Some(3),
        },
    );
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("RowCountMismatch"));
    assert_eq!(w.condition("Verified").1, "RowCountMismatch");
    assert_eq!(w.status.mismatches[0].table, "public.order_items");
}

#[test]
fn a_full_restore_succeeds_with_timings_duration_and_conditions() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::Succeeded);
    let s = &w.status;
    assert_eq!(w.condition("Succeeded").0, "True");
    let (verified, reason, _) = w.condition("Verified");
    assert_eq!(
        (verified.as_str(), reason.as_str()),
        ("True", "RowCountsMatch")
    );
    let total = s.duration_seconds.unwrap();
    assert_eq!(
        total,
        (s.completed_at.unwrap() - s.started_at.unwrap()).num_milliseconds() as f64 / 1000.0
    );
    assert!(total > 0.0);
    assert!(s.duration.is_some());
    let phases: Vec<_> = s.phase_timings.iter().map(|p| p.phase).collect();
    assert_eq!(
        phases,
        vec![
            RestorePhase::Resolving,
            RestorePhase::StoppingWriters,
            RestorePhase::Restoring,
            RestorePhase::Verifying,
            RestorePhase::RestartingWriters,
        ]
    );
    let summed: f64 = s
        .phase_timings
        .iter()
        .map(|p| p.duration_seconds.unwrap())
        .sum();
    assert!((summed - total).abs() < 0.001, "{summed} vs {total}");
    assert!(s.writers.iter().all(|x| x.restarted));
    assert_eq!(w.replicas("webshop-backend"), 3);
    assert!(
        s.message
            .clone()
            .unwrap()
            .starts_with(&format!("restored {NEWEST} into database \"webshop\" in "))
    );
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(w.step(), Step::idle());
}

#[test]
fn a_writer_deleted_during_the_restore_is_reported_not_waited_for() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.writers[1].state = WorkloadState::Missing;
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::Succeeded);
    let message = w.status.message.clone().unwrap();
    assert!(
        message.contains("no longer exist: Deployment webshop-worker (3 replicas)"),
        "{message}"
    );
    assert!(!w.status.writers[1].restarted);
    assert!(w.status.writers[0].restarted);
}

#[test]
fn a_schema_only_restore_is_not_row_count_verified() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.mode.content = tidemark_crd::restore_request::RestoreContent::SchemaOnly;
    w.spec.mode.clean = None;
    w.start_restore();
    w.finish_job(RunKind::Restore, JobState::Succeeded(None));
    w.run_to(RestorePhase::Succeeded);
    assert_eq!(w.condition("Verified").0, "Unknown");
}

#[test]
fn a_restore_without_row_counts_to_compare_is_not_called_verified() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.finish_job(RunKind::Restore, JobState::Succeeded(None));
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("VerificationUnavailable"));
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn writer_kinds_are_kept_apart() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.stop_writers[1].kind = WorkloadKind::StatefulSet;
    w.writers[1].kind = WorkloadKind::StatefulSet;
    w.run_to(RestorePhase::Restoring);
    assert_eq!(w.status.writers[1].kind, WorkloadKind::StatefulSet);
}

#[test]
fn a_policy_deleted_after_resolving_fails_before_the_restore_and_restarts_writers() {
    let mut w = World::new("restore-latest.yaml");
    w.run_to(RestorePhase::Restoring);
    w.policy = None;
    let step = w.step();
    assert!(created(&step).is_empty());
    assert_eq!(w.status.reason.as_deref(), Some("PolicyNotFound"));
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn deleting_an_unfinished_request_stops_its_job_and_restarts_the_writers() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    w.deleting = true;
    let step = w.step();
    assert_eq!(
        step.actions,
        vec![Action::DeleteJob {
            name: "rr-restore".into()
        }]
    );
    assert_eq!(w.status.reason.as_deref(), Some("Deleted"));
    assert_eq!(w.status.phase, RestorePhase::RestartingWriters);
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-backend"), 3);
    assert_eq!(w.replicas("webshop-worker"), 3);
}

#[test]
fn deleting_a_request_that_never_started_just_ends_it() {
    let mut w = World::new("restore-latest.yaml");
    w.deleting = true;
    let step = w.step();
    assert!(step.actions.is_empty());
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-backend"), 3);
}

#[test]
fn a_post_restore_image_that_runs_as_root_names_the_image_field() {
    let mut w = World::new("restore-after-failed-migration.yaml");
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::PostRestore);
    w.step();
    w.step();
    w.block_pod(
        RunKind::PostRestore,
        "CreateContainerConfigError",
        "container has runAsNonRoot and image will run as root",
    );
    w.step();
    assert_eq!(w.status.reason.as_deref(), Some("PostRestorePodBlocked"));
    assert!(
        w.status
            .message
            .clone()
            .unwrap()
            .starts_with("postRestore.image: the post-restore Job"),
        "{:?}",
        w.status.message
    );
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.replicas("webshop-worker"), 3);
}

#[test]
fn a_missing_secret_of_the_post_restore_env_names_the_env_entry() {
    let mut w = World::new("restore-after-failed-migration.yaml");
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::PostRestore);
    w.step();
    w.block_pod(
        RunKind::PostRestore,
        "CreateContainerConfigError",
        "couldn't find key database-url in Secret webshop/webshop-db",
    );
    w.step();
    let message = w.status.message.clone().unwrap();
    assert!(
        message.starts_with("postRestore.env[0] (DATABASE_URL): the post-restore Job"),
        "{message}"
    );
}

#[test]
fn a_backup_without_row_counts_is_restored_but_not_called_verified() {
    let mut w = World::new("restore-latest.yaml");
    w.start_restore();
    let mut r = report(RunnerCommand::Restore);
    let mut result = restore_result(Vec::new());
    result.tables_compared = 0;
    r.restore = Some(result);
    w.finish_job(RunKind::Restore, JobState::Succeeded(Some(r)));
    w.run_to(RestorePhase::Succeeded);
    let (status, reason, _) = w.condition("Verified");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("Unknown", "NothingCompared")
    );
}

#[test]
fn an_encrypted_backup_without_an_identity_fails_before_the_writers_are_touched() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.decryption_identity_secret_ref = None;
    w.step();
    let step = w.step();
    assert!(step.actions.is_empty());
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(
        w.status.reason.as_deref(),
        Some("DecryptionIdentityMissing")
    );
    assert!(
        w.status
            .message
            .clone()
            .unwrap()
            .starts_with("decryptionIdentitySecretRef: backup postgres/webshop/webshop/20261123T090000Z.dump.zst.age is encrypted")
    );
    assert!(w.status.writers.is_empty());
}

fn preflight_found(user_tables: i64) -> JobState {
    let mut r = report(RunnerCommand::Restore);
    r.preflight = Some(tidemark_crd::contract::result::PreflightResult {
        database: "webshop".into(),
        exists: true,
        user_tables,
        user_objects: user_tables * 2,
    });
    JobState::Succeeded(Some(r))
}

#[test]
fn a_full_restore_without_clean_into_a_non_empty_target_fails_before_writers_stop() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.mode.clean = None;
    w.run_to(RestorePhase::Preflight);
    assert!(w.status.writers.is_empty(), "nothing saved or stopped yet");
    let step = w.step();
    assert!(matches!(
        &step.actions[..],
        [Action::CreateJob { kind: RunKind::Preflight, name }] if name == "rr-pre"
    ));
    w.finish_job(RunKind::Preflight, preflight_found(4));
    let step = w.step();
    assert!(
        !step
            .actions
            .iter()
            .any(|a| matches!(a, Action::Scale { .. })),
        "{step:?}"
    );
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("TargetNotEmpty"));
    let message = w.status.message.clone().unwrap();
    assert!(message.starts_with("mode.clean:"), "{message}");
    assert!(message.contains("set mode.clean: true"), "{message}");
    assert_eq!(w.condition("Succeeded").1, "TargetNotEmpty");
    assert_eq!(w.replicas("webshop-backend"), 3);
    assert!(!w.jobs.iter().any(|j| j.kind == Some(RunKind::Restore)));
    assert_eq!(w.status.target_check.as_ref().unwrap().user_tables, 4);
    assert_eq!(
        w.status.jobs.as_ref().unwrap().preflight.as_deref(),
        Some("rr-pre")
    );
}

#[test]
fn a_full_restore_without_clean_into_an_empty_target_goes_on() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.mode.clean = Some(false);
    w.run_to(RestorePhase::Preflight);
    w.step();
    w.finish_job(RunKind::Preflight, preflight_found(0));
    w.step();
    assert_ne!(w.status.phase, RestorePhase::Failed, "{:?}", w.status);
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::Succeeded);
}

#[test]
fn a_missing_target_without_create_database_names_the_field() {
    let mut w = World::new("restore-latest.yaml");
    w.spec.mode.clean = None;
    w.run_to(RestorePhase::Preflight);
    w.step();
    let mut r = report(RunnerCommand::Restore);
    r.preflight = Some(tidemark_crd::contract::result::PreflightResult {
        database: "webshop".into(),
        exists: false,
        ..Default::default()
    });
    w.finish_job(RunKind::Preflight, JobState::Succeeded(Some(r)));
    w.step();
    assert_eq!(w.status.reason.as_deref(), Some("TargetNotFound"));
    assert!(
        w.status
            .message
            .as_deref()
            .unwrap()
            .starts_with("target.createDatabase:")
    );
}

#[test]
fn a_clean_full_and_a_schema_only_restore_skip_the_preflight() {
    for (content, clean) in [
        (
            tidemark_crd::restore_request::RestoreContent::Full,
            Some(true),
        ),
        (
            tidemark_crd::restore_request::RestoreContent::SchemaOnly,
            None,
        ),
    ] {
        let mut w = World::new("restore-latest.yaml");
        w.spec.mode.content = content;
        w.spec.mode.clean = clean;
        w.start_restore();
        assert!(!w.jobs.iter().any(|j| j.kind == Some(RunKind::Preflight)));
    }
}

/// A data-only restore of selected tables (the writers are listed in the example).
fn data_only_world() -> World {
    let mut w = World::new("restore-latest.yaml");
    w.spec.mode.content = tidemark_crd::restore_request::RestoreContent::DataOnly;
    w.spec.mode.clean = None;
    w.spec.mode.tables = vec!["public.orders".into(), "public.users".into()];
    w
}

#[test]
fn a_data_only_restore_whose_target_lacks_tables_fails_before_writers_stop() {
    let mut w = data_only_world();
    let replicas = w.replicas("webshop-backend");
    w.run_to(RestorePhase::Preflight);
    assert!(w.status.writers.is_empty(), "nothing saved or stopped yet");
    let step = w.step();
    assert!(matches!(
        &step.actions[..],
        [Action::CreateJob { kind: RunKind::Preflight, name }] if name == "rr-pre"
    ));
    assert!(
        w.status
            .message
            .as_deref()
            .unwrap()
            .contains("holds every table"),
        "{:?}",
        w.status.message
    );
    w.finish_job(
        RunKind::Preflight,
        runner_failed(
            RunnerCommand::Restore,
            "TargetTablesMissing",
            "data-only restore into database \"webshop\": the target lacks 1 table(s) the \
             restore writes (public.users); nothing was touched",
        ),
    );
    let step = w.step();
    assert!(
        !step
            .actions
            .iter()
            .any(|a| matches!(a, Action::Scale { .. })),
        "{step:?}"
    );
    assert_eq!(w.status.phase, RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("TargetTablesMissing"));
    let message = w.status.message.clone().unwrap();
    assert!(
        message.starts_with("mode.content or mode.tables: preflight Job rr-pre failed"),
        "{message}"
    );
    assert!(message.contains("(public.users)"), "{message}");
    assert_eq!(w.condition("Succeeded").1, "TargetTablesMissing");
    assert_eq!(w.replicas("webshop-backend"), replicas);
    assert!(w.status.writers.is_empty(), "{:?}", w.status.writers);
    assert!(!w.jobs.iter().any(|j| j.kind == Some(RunKind::Restore)));
}

#[test]
fn a_data_only_restore_into_a_target_with_its_tables_goes_on() {
    let mut w = data_only_world();
    w.run_to(RestorePhase::Preflight);
    w.step();
    // The target holds tables (not empty): right for a data-only restore.
    w.finish_job(RunKind::Preflight, preflight_found(4));
    w.step();
    assert_ne!(w.status.phase, RestorePhase::Failed, "{:?}", w.status);
    w.start_restore();
    w.finish_job(RunKind::Restore, restored_ok());
    w.run_to(RestorePhase::Succeeded);
}

#[test]
fn a_preflight_that_could_not_check_is_a_preflight_failure() {
    let mut w = data_only_world();
    w.run_to(RestorePhase::Preflight);
    w.step();
    w.finish_job(
        RunKind::Preflight,
        runner_failed(RunnerCommand::Restore, "S3Denied", "AccessDenied"),
    );
    w.step();
    assert_eq!(w.status.reason.as_deref(), Some("PreflightFailed"));
}

#[test]
fn which_requests_need_a_preflight() {
    use tidemark_crd::restore_request::RestoreContent;
    use tidemark_operator::restore_request::preflight::needed;
    let mut w = World::new("restore-latest.yaml");
    for (content, clean, tables, expected) in [
        (RestoreContent::Full, Some(true), false, false),
        (RestoreContent::Full, Some(true), true, false),
        (RestoreContent::Full, None, false, true),
        (RestoreContent::Full, Some(false), true, true),
        (RestoreContent::DataOnly, None, false, true),
        (RestoreContent::DataOnly, None, true, true),
        (RestoreContent::SchemaOnly, None, false, false),
    ] {
        w.spec.mode.content = content;
        w.spec.mode.clean = clean;
        w.spec.mode.tables = if tables {
            vec!["public.orders".into()]
        } else {
            Vec::new()
        };
        assert_eq!(
            needed(&w.spec),
            expected,
            "{content:?} clean {clean:?} tables {tables}"
        );
    }
}

// ---- backup.allDatabases ---------------------------------------------------------

const RUN_KEY: &str = "postgres/webshop/webshop/20261123T090000Z.beta.dump.zst.age";

/// A request for every database of the newest run of a policy of several databases,
/// into a new server (full restore without clean: the targets must be empty or new).
fn all_databases_world() -> World {
    let mut w = World::new("restore-lost-server.yaml");
    w.spec.backup.all_databases = Some(true);
    w.spec.target.connection.database = None;
    w.spec.stop_writers.clear();
    w.writers.clear();
    let status = w.policy.as_mut().unwrap().status.as_mut().unwrap();
    for b in &mut status.backups {
        b.run = Some("20261123T090000Z".into());
    }
    w
}

fn database(
    name: &str,
    outcome: tidemark_crd::contract::result::DatabaseRestoreOutcome,
    tables: u32,
) -> tidemark_crd::contract::result::DatabaseRestore {
    tidemark_crd::contract::result::DatabaseRestore {
        database: name.into(),
        key: format!("20261123T090000Z.{name}.dump.zst.age"),
        outcome,
        created: true,
        tables_restored: tables,
        tables_compared: tables,
        mismatch_count: 0,
        duration_ms: 100,
        reason: None,
    }
}

fn all_report(
    dbs: Vec<tidemark_crd::contract::result::DatabaseRestore>,
) -> tidemark_crd::contract::result::AllDatabasesRestore {
    use tidemark_crd::contract::result::DatabaseRestoreOutcome as O;
    let n = |o: O| u32::try_from(dbs.iter().filter(|d| d.outcome == o).count()).unwrap();
    tidemark_crd::contract::result::AllDatabasesRestore {
        run_id: "20261123T090000Z".into(),
        backup_completed_at: t("2026-11-23T09:00:40Z"),
        restored: n(O::Restored) + n(O::Mismatched),
        failed: n(O::Failed),
        not_started: n(O::NotStarted),
        duration_ms: 300,
        databases_omitted: 0,
        databases: dbs,
    }
}

/// Runs an all-databases request to its restore Job: the run is resolved by a list Job
/// (no database named), and no single-target preflight runs.
fn all_databases_restoring() -> World {
    let mut w = all_databases_world();
    w.step();
    let step = w.step();
    assert_eq!(created(&step), vec![RunKind::List], "{:?}", w.status);
    let mut r = report(RunnerCommand::List);
    r.list = Some(ListResult {
        count: 6,
        broken_count: 0,
        broken: Vec::new(),
        total_stored_bytes: 6_000,
        oldest: None,
        newest: None,
        selected: Some(ListedBackup {
            key: RUN_KEY.into(),
            completed_at: t("2026-11-23T09:00:40Z"),
            stored_size: 1_000,
            sha256: "sha".into(),
        }),
    });
    w.finish_job(RunKind::List, JobState::Succeeded(Some(r)));
    w.step();
    assert_eq!(w.status.phase, RestorePhase::Restoring, "{:?}", w.status);
    assert_eq!(w.status.resolved_backup.as_ref().unwrap().key, RUN_KEY);
    let step = w.step();
    assert_eq!(created(&step), vec![RunKind::Restore]);
    assert!(
        w.status
            .message
            .as_deref()
            .unwrap()
            .contains("every database of the run"),
        "{:?}",
        w.status.message
    );
    w
}

#[test]
fn all_databases_resolves_the_run_without_a_database_and_skips_the_single_preflight() {
    let w = all_databases_restoring();
    assert!(
        !w.jobs.iter().any(|j| j.kind == Some(RunKind::Preflight)),
        "the runner checks every target itself"
    );
}

#[test]
fn all_databases_records_each_database_and_verifies_the_totals() {
    use tidemark_crd::contract::result::DatabaseRestoreOutcome as O;
    let mut w = all_databases_restoring();
    let mut r = report(RunnerCommand::Restore);
    r.restore_all = Some(all_report(vec![
        database("alpha", O::Restored, 2),
        database("beta", O::Restored, 3),
        database("gamma", O::Restored, 4),
    ]));
    w.finish_job(RunKind::Restore, JobState::Succeeded(Some(r)));
    w.run_to(RestorePhase::Succeeded);
    let names: Vec<&str> = w
        .status
        .databases
        .iter()
        .map(|d| d.database.as_str())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(w.status.tables_compared, Some(9));
    let (verified, reason, message) = w.condition("Verified");
    assert_eq!(
        (verified.as_str(), reason.as_str()),
        ("True", "RowCountsMatch")
    );
    assert_eq!(
        message,
        "row counts of 9 tables in 3 databases match their backups' manifests"
    );
}

#[test]
fn all_databases_partial_failure_says_what_was_restored_failed_and_not_started() {
    use tidemark_crd::contract::result::DatabaseRestoreOutcome as O;
    let mut w = all_databases_restoring();
    let mut r = report(RunnerCommand::Restore);
    r.outcome = Outcome::Failed;
    let mut failed = database("beta", O::Failed, 0);
    failed.created = false;
    failed.reason = Some("RestoreFailed".into());
    let mut later = database("gamma", O::NotStarted, 0);
    later.created = false;
    r.restore_all = Some(all_report(vec![
        database("alpha", O::Restored, 2),
        failed,
        later,
    ]));
    r.error = Some(ReportedError {
        kind: ErrorKind::Runtime,
        reason: "RestoreFailed".into(),
        message: "restoring database beta failed: pg_restore failed: boom — restored \
                  (committed): alpha; not started: gamma"
            .into(),
    });
    w.finish_job(
        RunKind::Restore,
        JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: String::new(),
            report: Some(r),
            exit_code: Some(1),
        },
    );
    w.run_to(RestorePhase::Failed);
    assert_eq!(w.status.reason.as_deref(), Some("RestoreFailed"));
    let message = w.status.message.clone().unwrap();
    assert!(
        message.contains("restored (committed): alpha") && message.contains("not started: gamma"),
        "{message}"
    );
    let outcomes: Vec<(&str, O)> = w
        .status
        .databases
        .iter()
        .map(|d| (d.database.as_str(), d.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("alpha", O::Restored),
            ("beta", O::Failed),
            ("gamma", O::NotStarted)
        ]
    );
}

#[test]
fn all_databases_mismatch_in_one_database_fails_verification_naming_it() {
    use tidemark_crd::contract::result::DatabaseRestoreOutcome as O;
    let mut w = all_databases_restoring();
    let mut r = report(RunnerCommand::Restore);
    r.outcome = Outcome::Failed;
    let mut beta = database("beta", O::Mismatched, 3);
    beta.mismatch_count = 1;
    beta.reason = Some("RowCountMismatch".into());
    r.restore_all = Some(all_report(vec![
        database("alpha", O::Restored, 2),
        beta,
        database("gamma", O::NotStarted, 0),
    ]));
    r.error = Some(ReportedError {
        kind: ErrorKind::Check,
        reason: "RowCountMismatch".into(),
        message: "restoring database beta failed: 1 table differs".into(),
    });
    w.finish_job(
        RunKind::Restore,
        JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: String::new(),
            report: Some(r),
            exit_code: Some(3),
        },
    );
    w.run_to(RestorePhase::Failed);
    let (verified, reason, message) = w.condition("Verified");
    assert_eq!(
        (verified.as_str(), reason.as_str()),
        ("False", "RowCountMismatch")
    );
    assert!(message.contains("beta (1 of 3 tables differ)"), "{message}");
    assert!(
        message.contains("restored and matching: alpha"),
        "{message}"
    );
}
