//! The BackupPolicy scheduling decision on concrete situations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use tidemark_crd::backup_policy::{BackupPolicyStatus, BackupRecord, SkipReason};
use tidemark_crd::{BackupPolicy, BackupPolicySpec};
use tidemark_operator::backup_policy::decide::{Inputs, Plan, PolicyJob, decide};
use tidemark_operator::backup_policy::jobs::Trigger;
use tidemark_operator::backup_policy::validate::validate;
use tidemark_operator::naming::RunKind;
use tidemark_operator::runtime::observed::{JobState, ObservedJob};

mod support;
use support::fixtures::example;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn spec() -> BackupPolicySpec {
    let p: BackupPolicy = example("webshop-hourly.yaml");
    p.spec
}

fn job(name: &str, kind: RunKind, scheduled: Option<&str>, state: JobState) -> ObservedJob {
    ObservedJob {
        name: name.into(),
        kind: Some(kind),
        scheduled: scheduled.map(t),
        run_now: None,
        created: scheduled.map(t),
        finished: state.is_finished().then(|| t("2026-11-23T10:03:00Z")),
        state,
        pod_problem: None,
    }
}

fn plan(
    spec: &BackupPolicySpec,
    status: &BackupPolicyStatus,
    jobs: &[ObservedJob],
    now: &str,
) -> Plan {
    plan_with(spec, status, jobs, None, now)
}

fn names(p: &Plan) -> Vec<&str> {
    p.launch.iter().map(|l| l.name.as_str()).collect()
}

fn status_at(last: &str) -> BackupPolicyStatus {
    BackupPolicyStatus {
        last_schedule_time: Some(t(last)),
        last_verification_schedule_time: Some(t("2026-11-23T04:00:00Z")),
        ..Default::default()
    }
}

#[test]
fn a_tick_creates_the_backup_job_named_after_the_scheduled_time() {
    let p = plan(
        &spec(),
        &status_at("2026-11-23T10:00:00Z"),
        &[],
        "2026-11-23T11:00:00.400Z",
    );
    assert_eq!(names(&p), ["webshop-backup-202611231100"]);
    assert_eq!(
        p.launch[0].trigger,
        Trigger::Scheduled(t("2026-11-23T11:00:00Z"))
    );
    assert_eq!(p.last_schedule_time, Some(t("2026-11-23T11:00:00Z")));
    assert_eq!(p.next_schedule_time, Some(t("2026-11-23T12:00:00Z")));
    assert_eq!(p.wake_at, Some(t("2026-11-23T12:00:00Z")));
}

#[test]
fn a_restarted_operator_does_not_launch_the_same_run_again() {
    // The Job exists but the status write that recorded it was lost.
    let jobs = [job(
        "webshop-backup-202611231100",
        RunKind::Backup,
        Some("2026-11-23T11:00:00Z"),
        JobState::Active,
    )];
    let p = plan(
        &spec(),
        &status_at("2026-11-23T10:00:00Z"),
        &jobs,
        "2026-11-23T11:00:30Z",
    );
    assert!(p.launch.is_empty(), "{p:?}");
    assert!(p.skipped.is_empty());
    assert_eq!(p.last_schedule_time, Some(t("2026-11-23T11:00:00Z")));
}

#[test]
fn a_tick_while_the_previous_backup_runs_is_skipped() {
    let jobs = [job(
        "webshop-backup-202611231000",
        RunKind::Backup,
        Some("2026-11-23T10:00:00Z"),
        JobState::Active,
    )];
    let p = plan(
        &spec(),
        &status_at("2026-11-23T10:00:00Z"),
        &jobs,
        "2026-11-23T11:00:01Z",
    );
    assert!(p.launch.is_empty());
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].reason, SkipReason::PreviousRunActive);
    assert_eq!(p.skipped[0].scheduled_time, t("2026-11-23T11:00:00Z"));
    // Recorded, so the next reconcile does not try again.
    assert_eq!(p.last_schedule_time, Some(t("2026-11-23T11:00:00Z")));
}

#[test]
fn a_run_missed_beyond_the_starting_deadline_is_recorded_as_skipped() {
    // The operator was down from 09:30 to 11:20; startingDeadlineSeconds is 900.
    let p = plan(
        &spec(),
        &status_at("2026-11-23T09:00:00Z"),
        &[],
        "2026-11-23T11:20:00Z",
    );
    assert!(p.launch.is_empty());
    assert_eq!(p.skipped[0].reason, SkipReason::MissedStartingDeadline);
    assert_eq!(p.skipped[0].scheduled_time, t("2026-11-23T11:00:00Z"));
}

#[test]
fn a_run_missed_within_the_deadline_is_caught_up_once() {
    let p = plan(
        &spec(),
        &status_at("2026-11-23T07:00:00Z"),
        &[],
        "2026-11-23T11:10:00Z",
    );
    assert_eq!(names(&p), ["webshop-backup-202611231100"]);
}

#[test]
fn retention_runs_after_a_successful_backup_and_never_after_a_failed_one() {
    let ok = job(
        "webshop-backup-202611231000",
        RunKind::Backup,
        Some("2026-11-23T10:00:00Z"),
        JobState::Succeeded(None),
    );
    let p = plan(
        &spec(),
        &status_at("2026-11-23T10:00:00Z"),
        std::slice::from_ref(&ok),
        "2026-11-23T10:03:01Z",
    );
    assert_eq!(names(&p), ["webshop-backup-202611231000-prune"]);
    assert_eq!(
        p.launch[0].job,
        PolicyJob::Prune {
            after: "webshop-backup-202611231000".into()
        }
    );

    let failed = job(
        "webshop-backup-202611231000",
        RunKind::Backup,
        Some("2026-11-23T10:00:00Z"),
        JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: String::new(),
            report: None,
            exit_code: Some(1),
        },
    );
    let p = plan(
        &spec(),
        &status_at("2026-11-23T10:00:00Z"),
        &[failed],
        "2026-11-23T10:03:01Z",
    );
    assert!(p.launch.is_empty(), "{p:?}");

    // Once the prune Job exists, it is not launched again.
    let prune = job(
        "webshop-backup-202611231000-prune",
        RunKind::Prune,
        Some("2026-11-23T10:00:00Z"),
        JobState::Active,
    );
    let p = plan(
        &spec(),
        &status_at("2026-11-23T10:00:00Z"),
        &[ok, prune],
        "2026-11-23T10:03:05Z",
    );
    assert!(p.launch.is_empty());
}

#[test]
fn retention_follows_the_newly_finished_backup_even_when_finish_times_tie() {
    // Two runNow backups finished within the same second (Job times have second
    // precision); the older one is recorded and pruned, the new one sorts first by name.
    let older = job(
        "webshop-backup-now-ca978112",
        RunKind::Backup,
        None,
        JobState::Succeeded(None),
    );
    let older_prune = job(
        "webshop-backup-now-ca978112-prune",
        RunKind::Prune,
        None,
        JobState::Succeeded(None),
    );
    let newer = job(
        "webshop-backup-now-3e23e816",
        RunKind::Backup,
        None,
        JobState::Succeeded(None),
    );
    let mut status = status_at("2026-11-23T10:00:00Z");
    status.recorded_jobs = vec![older.name.clone(), older_prune.name.clone()];
    let p = plan(
        &spec(),
        &status,
        &[older, older_prune, newer],
        "2026-11-23T10:03:05Z",
    );
    assert_eq!(names(&p), ["webshop-backup-now-3e23e816-prune"]);
}

#[test]
fn run_now_starts_one_backup_per_new_value() {
    let mut s = spec();
    s.run_now = Some("2026-11-23T10:20:00Z".into());
    let p = plan(
        &s,
        &status_at("2026-11-23T10:00:00Z"),
        &[],
        "2026-11-23T10:20:01Z",
    );
    assert_eq!(p.launch.len(), 1);
    assert!(p.launch[0].name.starts_with("webshop-backup-now-"));
    assert_eq!(p.handled.spec.as_deref(), Some("2026-11-23T10:20:00Z"));

    // Already handled: nothing.
    let mut status = status_at("2026-11-23T10:00:00Z");
    status.last_run_now = s.run_now.clone();
    let p = plan(&s, &status, &[], "2026-11-23T10:21:00Z");
    assert!(p.launch.is_empty());
}

#[test]
fn run_now_waits_for_the_active_backup() {
    let mut s = spec();
    s.run_now = Some("again".into());
    let jobs = [job(
        "webshop-backup-202611231000",
        RunKind::Backup,
        Some("2026-11-23T10:00:00Z"),
        JobState::Active,
    )];
    let p = plan(
        &s,
        &status_at("2026-11-23T10:00:00Z"),
        &jobs,
        "2026-11-23T10:20:00Z",
    );
    assert!(p.launch.is_empty());
    assert_eq!(
        p.handled.spec, None,
        "handled once the active backup finished"
    );
}

#[test]
fn suspend_starts_nothing_new() {
    let mut s = spec();
    s.suspend = true;
    let p = plan(
        &s,
        &status_at("2026-11-23T10:00:00Z"),
        &[],
        "2026-11-23T11:00:01Z",
    );
    assert!(p.launch.is_empty());
    assert_eq!(p.next_schedule_time, None);
}

#[test]
fn verification_and_restore_test_run_on_their_own_schedules() {
    let mut status = status_at("2026-12-01T03:00:00Z");
    status.last_verification_schedule_time = Some(t("2026-11-30T04:00:00Z"));
    status.last_restore_test_schedule_time = Some(t("2026-11-01T05:00:00Z"));
    // With no backup at that minute, the verification starts at once.
    let mut spec = spec();
    spec.schedule = "30 * * * *".into();
    let p = plan(&spec, &status, &[], "2026-12-01T04:00:02Z");
    assert_eq!(names(&p), ["webshop-verify-202612010400"]);

    status.last_verification_schedule_time = Some(t("2026-12-01T04:00:00Z"));
    let p = plan(&spec, &status, &[], "2026-12-01T05:00:01Z");
    assert_eq!(names(&p), ["webshop-rtest-202612010500"]);
}

/// A verification or restore test due at the same time as a backup waits for the backup
/// and its retention, then checks the backup that retention kept; never longer than half
/// the starting deadline (the example's 900 s: 450 s), after which it runs anyway.
#[test]
fn a_verification_due_with_a_backup_waits_for_it_and_its_retention() {
    let mut status = status_at("2026-12-01T03:00:00Z");
    status.last_verification_schedule_time = Some(t("2026-11-30T04:00:00Z"));
    let at = "2026-12-01T04:00:00Z";
    let backup = "webshop-backup-202612010400";
    let prune = "webshop-backup-202612010400-prune";

    // The tick: the backup starts, the verification waits (not recorded as run).
    let p = plan(&spec(), &status, &[], "2026-12-01T04:00:02Z");
    assert_eq!(names(&p), [backup]);
    assert_eq!(p.waiting, [("verify", t(at))]);
    assert_eq!(
        p.last_verification_schedule_time,
        Some(t("2026-11-30T04:00:00Z"))
    );
    assert!(p.wake_at.unwrap() <= t("2026-12-01T04:07:30Z"), "{p:?}");

    // The backup runs: still waiting.
    status.last_schedule_time = Some(t(at));
    let running = job(backup, RunKind::Backup, Some(at), JobState::Active);
    let p = plan(
        &spec(),
        &status,
        std::slice::from_ref(&running),
        "2026-12-01T04:03:00Z",
    );
    assert!(p.launch.is_empty(), "{p:?}");
    assert_eq!(p.waiting, [("verify", t(at))]);

    // The backup succeeded: its retention starts, the verification still waits.
    let done = job(backup, RunKind::Backup, Some(at), JobState::Succeeded(None));
    let p = plan(
        &spec(),
        &status,
        std::slice::from_ref(&done),
        "2026-12-01T04:04:00Z",
    );
    assert_eq!(names(&p), [prune]);
    assert_eq!(p.waiting, [("verify", t(at))]);
    let pruning = job(prune, RunKind::Prune, Some(at), JobState::Active);
    let p = plan(
        &spec(),
        &status,
        &[done.clone(), pruning],
        "2026-12-01T04:04:30Z",
    );
    assert!(p.launch.is_empty() && p.waiting.len() == 1, "{p:?}");

    // Retention finished: the verification starts, under its scheduled name.
    status.recorded_jobs = vec![backup.into()];
    let pruned = job(prune, RunKind::Prune, Some(at), JobState::Succeeded(None));
    let p = plan(&spec(), &status, &[done, pruned], "2026-12-01T04:05:00Z");
    assert_eq!(names(&p), ["webshop-verify-202612010400"]);
    assert!(p.waiting.is_empty());
    assert_eq!(p.last_verification_schedule_time, Some(t(at)));

    // A backup still running after half the starting deadline: the verification runs
    // anyway, within the deadline.
    status.recorded_jobs.clear();
    let p = plan(&spec(), &status, &[running], "2026-12-01T04:07:31Z");
    assert_eq!(names(&p), ["webshop-verify-202612010400"]);
    assert!(p.waiting.is_empty());
}

#[test]
fn a_restore_test_due_with_a_backup_waits_for_it() {
    let mut status = status_at("2026-12-01T04:00:00Z");
    status.last_verification_schedule_time = Some(t("2026-12-01T04:00:00Z"));
    status.last_restore_test_schedule_time = Some(t("2026-11-01T05:00:00Z"));
    let p = plan(&spec(), &status, &[], "2026-12-01T05:00:01Z");
    assert_eq!(names(&p), ["webshop-backup-202612010500"]);
    assert_eq!(p.waiting, [("restore-test", t("2026-12-01T05:00:00Z"))]);

    // Without a starting deadline the wait is at most an hour.
    let mut spec = spec();
    spec.starting_deadline_seconds = None;
    status.last_schedule_time = Some(t("2026-12-01T05:00:00Z"));
    let running = job(
        "webshop-backup-202612010500",
        RunKind::Backup,
        Some("2026-12-01T05:00:00Z"),
        JobState::Active,
    );
    let p = plan(
        &spec,
        &status,
        std::slice::from_ref(&running),
        "2026-12-01T05:59:00Z",
    );
    assert!(p.launch.is_empty() && p.waiting.len() == 1, "{p:?}");
    let p = plan(&spec, &status, &[running], "2026-12-01T06:00:00Z");
    assert_eq!(names(&p), ["webshop-rtest-202612010500"]);
}

#[test]
fn a_verification_missed_beyond_the_deadline_is_skipped_not_run_late() {
    let mut status = status_at("2026-12-01T04:00:00Z");
    status.last_verification_schedule_time = Some(t("2026-11-30T04:00:00Z"));
    let p = plan(&spec(), &status, &[], "2026-12-01T04:30:00Z");
    assert!(p.launch.is_empty());
    assert_eq!(p.skipped[0].kind, "verify");
    assert_eq!(p.skipped[0].reason, SkipReason::MissedStartingDeadline);
}

#[test]
fn the_controller_wakes_when_the_newest_backup_would_turn_stale() {
    let mut s = spec();
    s.schedule = "0 3 * * *".into(); // daily, but RPO is 1h
    let mut status = status_at("2026-11-23T03:00:00Z");
    status.last_backup = Some(BackupRecord {
        completed_at: t("2026-11-23T03:02:00Z"),
        ..Default::default()
    });
    let p = plan(&s, &status, &[], "2026-11-23T03:30:00Z");
    assert_eq!(
        p.wake_at,
        Some(t("2026-11-23T04:00:00Z")),
        "verification at 04:00 comes first"
    );
    let p = plan(&s, &status, &[], "2026-11-23T03:10:00Z");
    assert_eq!(p.wake_at, Some(t("2026-11-23T04:00:00Z")));
    s.rpo = Some("30m".into());
    let p = plan(&s, &status, &[], "2026-11-23T03:10:00Z");
    assert_eq!(
        p.wake_at,
        Some(t("2026-11-23T03:32:00Z")),
        "BackupFresh turns False at 03:32"
    );
}

#[test]
fn an_invalid_schedule_is_reported_with_its_field() {
    let mut s = spec();
    s.verification.schedule = "0 25 * * *".into();
    let err = validate(&s).unwrap_err();
    assert!(
        err.to_string().starts_with("spec.verification.schedule:"),
        "{err}"
    );
    s.verification.schedule = "0 4 * * *".into();
    s.time_zone = "Europe/Atlantis".into();
    let err = validate(&s).unwrap_err();
    assert!(err.to_string().starts_with("spec.timeZone:"), "{err}");
}

fn plan_with(
    spec: &BackupPolicySpec,
    status: &BackupPolicyStatus,
    jobs: &[ObservedJob],
    annotation: Option<&str>,
    now: &str,
) -> Plan {
    decide(&Inputs {
        name: "webshop",
        spec: &validate(spec).unwrap(),
        status,
        created: t("2026-11-20T08:13:00Z"),
        jobs,
        now: t(now),
        run_now_annotation: annotation,
    })
}

fn plan_with_annotation(
    spec: &BackupPolicySpec,
    status: &BackupPolicyStatus,
    annotation: Option<&str>,
    now: &str,
) -> Plan {
    plan_with(spec, status, &[], annotation, now)
}

#[test]
fn immediate_starts_one_backup_at_once_and_never_again() {
    let mut s = spec();
    s.immediate = true;
    // Created a minute ago, long before the next tick: one backup now.
    let fresh = BackupPolicyStatus::default();
    let p = plan(&s, &fresh, &[], "2026-11-20T08:14:00Z");
    assert_eq!(p.launch.len(), 1, "{p:?}");
    assert_eq!(p.launch[0].kind(), RunKind::Backup);
    assert!(p.launch[0].name.starts_with("webshop-backup-now-"));
    assert_eq!(
        p.handled.immediate.as_deref(),
        Some(p.launch[0].name.as_str())
    );

    // Recorded: the schedule alone decides from then on.
    let done = BackupPolicyStatus {
        immediate_backup: p.handled.immediate.clone(),
        ..BackupPolicyStatus::default()
    };
    let p = plan(&s, &done, &[], "2026-11-20T08:15:00Z");
    assert!(p.launch.is_empty(), "{p:?}");

    // Without `immediate` nothing starts before the first tick.
    let p = plan(&spec(), &fresh, &[], "2026-11-20T08:14:00Z");
    assert!(p.launch.is_empty(), "{p:?}");
}

#[test]
fn a_new_run_now_annotation_token_starts_one_backup_and_is_echoed() {
    let s = spec();
    let status = status_at("2026-11-23T10:00:00Z");
    let p = plan_with_annotation(&s, &status, Some("deploy-42"), "2026-11-23T10:20:00Z");
    assert_eq!(p.launch.len(), 1, "{p:?}");
    assert_eq!(p.handled.annotation.as_deref(), Some("deploy-42"));
    assert_eq!(p.handled.spec, None);
    let first = p.launch[0].name.clone();

    // The same token again: handled already.
    let mut seen = status.clone();
    seen.last_run_now_annotation = Some("deploy-42".into());
    let p = plan_with_annotation(&s, &seen, Some("deploy-42"), "2026-11-23T10:21:00Z");
    assert!(p.launch.is_empty(), "{p:?}");

    // A new token: another Job; a runNow with the same text gets a Job of its own.
    let p = plan_with_annotation(&s, &seen, Some("deploy-43"), "2026-11-23T10:22:00Z");
    assert_eq!(p.launch.len(), 1);
    assert_ne!(p.launch[0].name, first);
    let mut both = s.clone();
    both.run_now = Some("deploy-42".into());
    let p = plan_with_annotation(&both, &status, Some("deploy-42"), "2026-11-23T10:20:00Z");
    assert_eq!(p.launch.len(), 1, "one backup at a time: {p:?}");
    assert_ne!(p.launch[0].name, first, "the spec's request goes first");
    assert_eq!(p.handled.spec.as_deref(), Some("deploy-42"));
    assert_eq!(p.handled.annotation, None, "the annotation waits its turn");
}
