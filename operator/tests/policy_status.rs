//! BackupPolicy status and condition computation from runner results (pure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use tidemark_crd::backup_policy::{BackupPolicyStatus, SkipReason, VerificationState};
use tidemark_crd::contract::result::{
    BackupResult, DatabaseBackup, ErrorKind, KeptBackup, Outcome, PruneResult, ReportedError,
    RunnerCommand, RunnerReport, VerifyCheck, VerifyCheckName, VerifyResult,
};
use tidemark_crd::units::human_size;
use tidemark_crd::{BackupPolicy, BackupPolicySpec};
use tidemark_operator::backup_policy::decide::{Inputs, decide};
use tidemark_operator::backup_policy::effective;
use tidemark_operator::backup_policy::results::MAX_RECORDED_JOBS;
use tidemark_operator::backup_policy::status::{StatusInputs, StatusOutcome, compute};
use tidemark_operator::backup_policy::validate::{SpecError, validate};
use tidemark_operator::naming::RunKind;
use tidemark_operator::runtime::observed::{JobState, ObservedJob, PodProblem};

mod support;
use support::fixtures::example;

const KEY_PREFIX: &str = "postgres/webshop/webshop/";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn k8s(t: DateTime<Utc>) -> Time {
    Time(Timestamp::new(t.timestamp(), 0).unwrap())
}

fn spec() -> BackupPolicySpec {
    let p: BackupPolicy = example("webshop-hourly.yaml");
    p.spec
}

fn key(stamp: &str) -> String {
    format!("{KEY_PREFIX}{stamp}.dump.zst.age")
}

fn report(command: RunnerCommand, started: DateTime<Utc>, ok: bool) -> RunnerReport {
    let mut r = RunnerReport::new(command, started, "0.1.0");
    r.finished_at = started + Duration::seconds(90);
    if !ok {
        r.outcome = Outcome::Failed;
        r.error = Some(ReportedError {
            kind: ErrorKind::Runtime,
            reason: "PgDumpFailed".into(),
            message: "pg_dump: connection refused".into(),
        });
    }
    r
}

fn backup_report(stamp: &str, completed: DateTime<Utc>) -> RunnerReport {
    let started = completed - Duration::seconds(90);
    let mut r = report(RunnerCommand::Backup, started, true);
    r.backup = Some(BackupResult {
        key: key(stamp),
        manifest_key: format!("{}.manifest.json", key(stamp)),
        stored_size: 12 * 1024 * 1024,
        raw_size: 80 * 1024 * 1024,
        sha256: "ab".repeat(32),
        total_rows: 1000,
        table_count: 7,
        started_at: started,
        completed_at: completed,
        duration_ms: 90_000,
        server_version: "15.4".into(),
        pg_dump_version: "15.4".into(),
        database: "webshop".into(),
        run_id: None,
        databases: Vec::new(),
        databases_omitted: 0,
    });
    r
}

fn job(name: &str, kind: RunKind, finished: Option<DateTime<Utc>>, state: JobState) -> ObservedJob {
    ObservedJob {
        name: name.into(),
        kind: Some(kind),
        scheduled: None,
        run_now: None,
        created: finished.map(|f| f - Duration::minutes(2)),
        finished,
        state,
        pod_problem: None,
    }
}

fn succeeded(name: &str, kind: RunKind, finished: &str, r: RunnerReport) -> ObservedJob {
    job(name, kind, Some(t(finished)), JobState::Succeeded(Some(r)))
}

fn failed(name: &str, kind: RunKind, finished: &str, r: Option<RunnerReport>) -> ObservedJob {
    job(
        name,
        kind,
        Some(t(finished)),
        JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: "Job has reached the specified backoff limit".into(),
            report: r,
            exit_code: Some(1),
        },
    )
}

const CREATED: &str = "2026-11-23T08:30:00Z";

fn run(
    spec: &BackupPolicySpec,
    previous: &BackupPolicyStatus,
    jobs: &[ObservedJob],
    now: &str,
) -> StatusOutcome {
    let now = t(now);
    let plan = decide(&Inputs {
        name: "webshop",
        spec: &validate(spec).unwrap(),
        status: previous,
        created: t(CREATED),
        jobs,
        now,
        run_now_annotation: None,
    });
    compute(
        &StatusInputs {
            spec,
            generation: Some(3),
            previous,
            created: t(CREATED),
            jobs,
            plan: Some(&plan),
            invalid: None,
            effective: effective::of(spec),
            launched: &plan.launch,
            now,
        },
        k8s(now),
    )
}

fn condition<'a>(s: &'a BackupPolicyStatus, type_: &str) -> &'a Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", s.conditions))
}

#[test]
fn successful_backup_is_recorded_once() {
    let spec = spec();
    let jobs = [succeeded(
        "webshop-backup-1",
        RunKind::Backup,
        "2026-11-23T10:01:30Z",
        backup_report("20261123T100000Z", t("2026-11-23T10:01:30Z")),
    )];
    let first = run(
        &spec,
        &BackupPolicyStatus::default(),
        &jobs,
        "2026-11-23T10:02:00Z",
    );
    let s = &first.status;
    assert_eq!(first.recorded.len(), 1);
    let last = s.last_backup.as_ref().unwrap();
    assert_eq!(last.key, key("20261123T100000Z"));
    assert_eq!(last.size, "12.0 MiB");
    assert_eq!(last.total_rows, 1000);
    assert_eq!(last.job_name.as_deref(), Some("webshop-backup-1"));
    assert_eq!(s.backup_count, 1);
    assert_eq!(s.backups[0].tiers, vec!["newest".to_string()]);
    assert_eq!(s.window.as_ref().unwrap().newest, t("2026-11-23T10:01:30Z"));
    assert_eq!(s.recorded_jobs, vec!["webshop-backup-1".to_string()]);
    assert_eq!(s.observed_generation, Some(3));
    assert_eq!(condition(s, "LastBackupSucceeded").status, "True");
    assert_eq!(condition(s, "BackupFresh").status, "True");
    assert_eq!(condition(s, "Ready").status, "True");

    // The next reconcile sees the same Job: nothing is recorded twice.
    let second = run(&spec, s, &jobs, "2026-11-23T10:03:00Z");
    assert!(second.recorded.is_empty());
    assert_eq!(second.status.backup_count, 1);
    assert_eq!(second.status.consecutive_failures, 0);
}

#[test]
fn failures_count_and_never_hide_the_last_good_backup() {
    let spec = spec();
    let good = succeeded(
        "webshop-backup-1",
        RunKind::Backup,
        "2026-11-23T09:01:30Z",
        backup_report("20261123T090000Z", t("2026-11-23T09:01:30Z")),
    );
    let s1 = run(
        &spec,
        &BackupPolicyStatus::default(),
        std::slice::from_ref(&good),
        "2026-11-23T09:05:00Z",
    );
    let jobs = [
        good,
        failed(
            "webshop-backup-2",
            RunKind::Backup,
            "2026-11-23T10:01:00Z",
            Some(report(
                RunnerCommand::Backup,
                t("2026-11-23T10:00:00Z"),
                false,
            )),
        ),
        failed(
            "webshop-backup-3",
            RunKind::Backup,
            "2026-11-23T11:01:00Z",
            None,
        ),
    ];
    let out = run(&spec, &s1.status, &jobs, "2026-11-23T11:02:00Z");
    let s = &out.status;
    assert_eq!(out.recorded.len(), 2);
    assert_eq!(s.consecutive_failures, 2);
    assert_eq!(s.last_backup.as_ref().unwrap().key, key("20261123T090000Z"));
    assert_eq!(
        s.backup_count, 1,
        "a failed backup adds nothing and removes nothing"
    );
    let f = s.last_failure.as_ref().unwrap();
    assert_eq!(f.kind, "backup");
    assert_eq!(f.job_name.as_deref(), Some("webshop-backup-3"));
    assert_eq!(f.reason, "BackoffLimitExceeded");
    let c = condition(s, "LastBackupSucceeded");
    assert_eq!(c.status, "False");
    assert!(
        c.message.starts_with("2 consecutive failed backup(s)"),
        "{}",
        c.message
    );
    // 09:01:30 + 1h rpo < 11:02: stale.
    assert_eq!(condition(s, "BackupFresh").status, "False");
    assert_eq!(condition(s, "BackupFresh").reason, "Stale");

    // The runner's own reason wins over the Job's.
    let out = run(&spec, &s1.status, &jobs[..2], "2026-11-23T10:02:00Z");
    let f = out.status.last_failure.unwrap();
    assert_eq!(f.reason, "PgDumpFailed");
    assert_eq!(f.message, "pg_dump: connection refused");

    // A later success resets the count.
    let mut more = jobs.to_vec();
    more.push(succeeded(
        "webshop-backup-4",
        RunKind::Backup,
        "2026-11-23T12:01:30Z",
        backup_report("20261123T120000Z", t("2026-11-23T12:01:30Z")),
    ));
    let out = run(&spec, s, &more, "2026-11-23T12:02:00Z");
    assert_eq!(out.status.consecutive_failures, 0);
    assert_eq!(condition(&out.status, "LastBackupSucceeded").status, "True");
    assert_eq!(out.status.backup_count, 2);
}

#[test]
fn missing_secret_surfaces_the_pod_reason() {
    let spec = spec();
    let problem = PodProblem {
        reason: "CreateContainerConfigError".into(),
        message: "secret \"webshop-db\" not found".into(),
    };
    let mut stuck = job("webshop-backup-1", RunKind::Backup, None, JobState::Active);
    stuck.pod_problem = Some(problem.clone());
    let out = run(
        &spec,
        &BackupPolicyStatus::default(),
        &[stuck.clone()],
        "2026-11-23T10:05:00Z",
    );
    let ready = condition(&out.status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "CreateContainerConfigError");
    assert!(ready.message.contains("secret \"webshop-db\" not found"));
    assert_eq!(out.status.active.len(), 1);

    // The Job then fails at its deadline: lastFailure names the pod's reason.
    let mut dead = failed(
        "webshop-backup-1",
        RunKind::Backup,
        "2026-11-23T10:55:00Z",
        None,
    );
    dead.pod_problem = Some(problem);
    let out = run(&spec, &out.status, &[dead], "2026-11-23T10:56:00Z");
    let f = out.status.last_failure.unwrap();
    assert_eq!(f.reason, "CreateContainerConfigError");
    assert!(f.message.contains("not found"), "{}", f.message);
    assert!(out.status.active.is_empty());
}

#[test]
fn prune_sets_tiers_and_removes_deleted_backups() {
    let spec = spec();
    let mut s = BackupPolicyStatus::default();
    let mut jobs = Vec::new();
    for (i, h) in ["08", "09", "10"].iter().enumerate() {
        let done = t(&format!("2026-11-23T{h}:01:00Z"));
        jobs.push(succeeded(
            &format!("b{i}"),
            RunKind::Backup,
            &done.to_rfc3339(),
            backup_report(&format!("20261123T{h}0000Z"), done),
        ));
    }
    s = run(&spec, &s, &jobs, "2026-11-23T10:01:30Z").status;
    assert_eq!(s.backup_count, 3);
    assert_eq!(s.backups[0].key, key("20261123T100000Z"), "newest first");

    let mut p = report(RunnerCommand::Prune, t("2026-11-23T10:02:00Z"), true);
    p.prune = Some(PruneResult {
        dry_run: false,
        broken_count: 0,
        broken: Vec::new(),
        kept: vec![
            KeptBackup {
                stamp: "20261123T100000Z".into(),
                tiers: vec!["newest".into(), "hourly".into()],
            },
            KeptBackup {
                stamp: "20261123T090000Z".into(),
                tiers: vec!["hourly".into(), "daily".into()],
            },
        ],
        kept_count: 2,
        deleted: vec![key("20261123T080000Z")],
        deleted_count: 1,
        orphans_deleted: 0,
        uploads_aborted: 0,
        bytes_deleted: 1,
        truncated: false,
    });
    jobs.push(succeeded(
        "b2-prune",
        RunKind::Prune,
        "2026-11-23T10:03:00Z",
        p,
    ));
    let out = run(&spec, &s, &jobs, "2026-11-23T10:04:00Z");
    let s = out.status;
    assert_eq!(s.backup_count, 2);
    assert_eq!(s.backups[0].tiers, vec!["newest", "hourly"]);
    assert_eq!(s.backups[1].tiers, vec!["hourly", "daily"]);
    assert_eq!(s.window.as_ref().unwrap().oldest, t("2026-11-23T09:01:00Z"));
}

#[test]
fn verification_marks_the_inventory_and_sets_verified() {
    let spec = spec();
    let done = t("2026-11-23T03:01:00Z");
    let backup = succeeded(
        "b",
        RunKind::Backup,
        "2026-11-23T03:01:00Z",
        backup_report("20261123T030000Z", done),
    );
    let s = run(
        &spec,
        &BackupPolicyStatus::default(),
        std::slice::from_ref(&backup),
        "2026-11-23T03:02:00Z",
    )
    .status;
    assert_eq!(condition(&s, "Verified").status, "Unknown");

    let checks = |ok: bool| VerifyResult {
        key: Some(key("20261123T030000Z")),
        backup_completed_at: Some(done),
        stored_size: Some(1),
        sha256: None,
        checks: VerifyCheckName::ALL
            .iter()
            .map(|n| VerifyCheck {
                name: *n,
                passed: ok || *n != VerifyCheckName::ChecksumMatches,
                message: if ok || *n != VerifyCheckName::ChecksumMatches {
                    String::new()
                } else {
                    "sha256 differs".into()
                },
            })
            .collect(),
    };
    let mut v = report(RunnerCommand::Verify, t("2026-11-23T04:00:00Z"), true);
    v.verify = Some(checks(true));
    let out = run(
        &spec,
        &s,
        &[
            backup.clone(),
            succeeded("v1", RunKind::Verify, "2026-11-23T04:01:00Z", v),
        ],
        "2026-11-23T04:02:00Z",
    );
    let s2 = out.status;
    assert_eq!(s2.backups[0].verification, VerificationState::Verified);
    assert!(s2.last_verification.as_ref().unwrap().passed);
    assert_eq!(
        s2.last_verification.as_ref().unwrap().checks.len(),
        VerifyCheckName::ALL.len()
    );
    assert_eq!(condition(&s2, "Verified").status, "True");

    let mut v = report(RunnerCommand::Verify, t("2026-11-24T04:00:00Z"), false);
    v.verify = Some(checks(false));
    let out = run(
        &spec,
        &s2,
        &[
            backup,
            failed("v2", RunKind::Verify, "2026-11-24T04:01:00Z", Some(v)),
        ],
        "2026-11-24T04:02:00Z",
    );
    let s3 = out.status;
    assert_eq!(s3.backups[0].verification, VerificationState::Failed);
    let c = condition(&s3, "Verified");
    assert_eq!(c.status, "False");
    assert!(
        c.message.contains("ChecksumMatches: sha256 differs"),
        "{}",
        c.message
    );
    assert_eq!(s3.last_failure.unwrap().kind, "verify");
}

#[test]
fn transition_time_is_kept_while_status_is_unchanged() {
    let spec = spec();
    let jobs = [succeeded(
        "b",
        RunKind::Backup,
        "2026-11-23T10:01:00Z",
        backup_report("20261123T100000Z", t("2026-11-23T10:01:00Z")),
    )];
    let first = run(
        &spec,
        &BackupPolicyStatus::default(),
        &jobs,
        "2026-11-23T10:02:00Z",
    )
    .status;
    let again = run(&spec, &first, &jobs, "2026-11-23T10:30:00Z").status;
    assert_eq!(
        condition(&first, "BackupFresh").last_transition_time,
        condition(&again, "BackupFresh").last_transition_time
    );
    assert_eq!(
        first.conditions, again.conditions,
        "nothing changed, nothing rewritten"
    );
    let stale = run(&spec, &again, &jobs, "2026-11-23T11:30:00Z").status;
    let c = condition(&stale, "BackupFresh");
    assert_eq!(c.status, "False");
    assert_eq!(c.last_transition_time, k8s(t("2026-11-23T11:30:00Z")));
    assert_eq!(c.observed_generation, Some(3));
}

#[test]
fn wakes_when_freshness_would_turn_false() {
    let mut spec = spec();
    spec.schedule = "0 0 1 1 *".into(); // yearly: the freshness deadline comes first
    spec.verification.enabled = false;
    spec.restore_test = None;
    let jobs = [succeeded(
        "b",
        RunKind::Backup,
        "2026-11-23T10:01:00Z",
        backup_report("20261123T100000Z", t("2026-11-23T10:01:00Z")),
    )];
    let out = run(
        &spec,
        &BackupPolicyStatus::default(),
        &jobs,
        "2026-11-23T10:02:00Z",
    );
    assert_eq!(out.wake_at, Some(t("2026-11-23T11:01:00Z")));
    // Without any backup, the deadline counts from the policy's creation.
    let out = run(
        &spec,
        &BackupPolicyStatus::default(),
        &[],
        "2026-11-23T09:00:00Z",
    );
    assert_eq!(out.wake_at, Some(t("2026-11-23T09:30:00Z")));
    let out = run(
        &spec,
        &BackupPolicyStatus::default(),
        &[],
        "2026-11-23T09:31:00Z",
    );
    assert_eq!(condition(&out.status, "BackupFresh").reason, "NoBackup");
}

#[test]
fn skipped_runs_and_run_now_are_echoed() {
    let mut spec = spec();
    spec.run_now = Some("2026-11-23T10:20".into());
    let active = job("webshop-backup-x", RunKind::Backup, None, JobState::Active);
    let out = run(
        &spec,
        &BackupPolicyStatus::default(),
        std::slice::from_ref(&active),
        "2026-11-23T10:00:30Z",
    );
    let skipped = out.status.last_skipped.as_ref().unwrap();
    assert_eq!(skipped.reason, SkipReason::PreviousRunActive);
    assert_eq!(
        out.status.last_run_now, None,
        "runNow waits for the active run"
    );
    assert_eq!(
        out.status.next_schedule_time,
        Some(t("2026-11-23T11:00:00Z"))
    );

    let out = run(&spec, &out.status, &[], "2026-11-23T10:21:00Z");
    assert_eq!(out.status.last_run_now.as_deref(), Some("2026-11-23T10:20"));
    assert_eq!(
        out.status.active.len(),
        1,
        "the launched runNow Job is active"
    );
}

#[test]
fn recorded_jobs_stay_bounded_without_recounting() {
    let spec = spec();
    let mut jobs = Vec::new();
    let base = t("2026-11-20T00:01:00Z");
    for i in 0..(MAX_RECORDED_JOBS + 10) {
        jobs.push(failed(
            &format!("b{i:03}"),
            RunKind::Backup,
            &(base + Duration::hours(i as i64)).to_rfc3339(),
            None,
        ));
    }
    let first = run(
        &spec,
        &BackupPolicyStatus::default(),
        &jobs,
        "2026-11-24T00:00:00Z",
    );
    assert_eq!(first.recorded.len(), MAX_RECORDED_JOBS + 10);
    assert_eq!(
        first.status.consecutive_failures,
        (MAX_RECORDED_JOBS + 10) as i32
    );
    assert_eq!(first.status.recorded_jobs.len(), MAX_RECORDED_JOBS);
    let second = run(&spec, &first.status, &jobs, "2026-11-24T00:01:00Z");
    assert!(second.recorded.is_empty(), "{:?}", second.recorded.len());
    assert_eq!(
        second.status.consecutive_failures,
        first.status.consecutive_failures
    );
}

#[test]
fn invalid_spec_names_the_field_and_does_not_requeue() {
    let mut spec = spec();
    spec.time_zone = "Mars/Olympus".into();
    let err: SpecError = validate(&spec).unwrap_err();
    assert_eq!(err.reason, "UnknownTimeZone");
    assert!(
        err.message.starts_with("spec.timeZone: "),
        "{}",
        err.message
    );
    let now = t("2026-11-23T10:00:00Z");
    let out = compute(
        &StatusInputs {
            spec: &spec,
            generation: Some(4),
            previous: &BackupPolicyStatus::default(),
            created: t(CREATED),
            jobs: &[],
            plan: None,
            invalid: Some(&err),
            effective: effective::of(&spec),
            launched: &[],
            now,
        },
        k8s(now),
    );
    let ready = condition(&out.status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "UnknownTimeZone");
    assert!(ready.message.contains("spec.timeZone"));
    // BackupFresh cannot be judged either, and names the invalid field, not `rpo`.
    let fresh = condition(&out.status, "BackupFresh");
    assert_eq!(fresh.status, "Unknown");
    assert_eq!(fresh.reason, "UnknownTimeZone");
    assert!(fresh.message.contains("spec.timeZone"), "{}", fresh.message);
    assert!(!fresh.message.contains("rpo"), "{}", fresh.message);
    assert_eq!(out.wake_at, None);
    assert_eq!(out.status.next_schedule_time, None);

    let mut spec2 = self::spec();
    spec2.schedule = "61 * * * *".into();
    let e = validate(&spec2).unwrap_err();
    assert_eq!(e.reason, "InvalidSchedule");
    assert!(e.message.starts_with("spec.schedule: "), "{}", e.message);
    let mut spec3 = self::spec();
    spec3.rpo = Some("soon".into());
    let e = validate(&spec3).unwrap_err();
    assert_eq!(e.reason, "InvalidDuration");
    assert!(e.message.starts_with("spec.rpo: "), "{}", e.message);
}

#[test]
fn sizes_for_people() {
    assert_eq!(human_size(512), "512 B");
    assert_eq!(human_size(1536), "1.5 KiB");
    assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
}

#[test]
fn a_partial_run_of_several_databases_records_each_database_and_keeps_its_good_ones() {
    let spec = spec();
    let completed = t("2026-11-23T10:01:30Z");
    let mut r = backup_report("20261123T100000Z.beta", completed);
    r.outcome = Outcome::Failed;
    r.error = Some(ReportedError {
        kind: ErrorKind::Config,
        reason: "PartialBackup".into(),
        message: "run 20261123T100000Z: 1 of 3 databases failed".into(),
    });
    let b = r.backup.as_mut().unwrap();
    b.run_id = Some("20261123T100000Z".into());
    b.databases = vec![
        DatabaseBackup {
            database: "gone".into(),
            ok: false,
            stored_size: None,
            total_rows: None,
            reason: Some("PostgresRejected".into()),
        },
        DatabaseBackup {
            database: "alpha".into(),
            ok: true,
            stored_size: Some(10),
            total_rows: Some(5),
            reason: None,
        },
    ];
    b.databases_omitted = 1;
    let jobs = [failed(
        "webshop-backup-1",
        RunKind::Backup,
        "2026-11-23T10:01:30Z",
        Some(r),
    )];
    let out = run(
        &spec,
        &BackupPolicyStatus::default(),
        &jobs,
        "2026-11-23T10:02:00Z",
    );
    let s = &out.status;
    let last_run = s.last_run.as_ref().unwrap();
    assert_eq!(last_run.id, "20261123T100000Z");
    assert_eq!((last_run.succeeded, last_run.failed), (2, 1));
    assert_eq!(last_run.databases[0].database, "gone");
    assert_eq!(
        last_run.databases[0].reason.as_deref(),
        Some("PostgresRejected")
    );
    assert_eq!(last_run.omitted, 1);
    // The run failed, and its good databases are in the inventory, as one run.
    assert_eq!(s.consecutive_failures, 1);
    assert_eq!(s.backups.len(), 1);
    assert_eq!(s.backups[0].run.as_deref(), Some("20261123T100000Z"));
    assert_eq!(condition(s, "LastBackupSucceeded").status, "False");
}
