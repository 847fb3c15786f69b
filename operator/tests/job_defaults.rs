//! The chart-wide pod defaults of runner Jobs (`--job-defaults`): every Job the operator
//! builds gets them, and a policy's or request's `jobTemplate` overrides them setting by
//! setting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{LocalObjectReference, PodSpec, Toleration};
use tidemark_crd::{BackupPolicy, RestoreRequest};
use tidemark_operator::backup_policy::jobs::{
    Trigger, backup_job, prune_job, purge_job, restore_test_job, verify_job,
};
use tidemark_operator::naming::{RunKind, request_job_name, scheduled_job_name};
use tidemark_operator::restore_request::jobs::{list_job, post_restore_job, restore_job};
use tidemark_operator::restore_request::source::BackupSource;
use tidemark_operator::runtime::job::{JobDefaults, PodDefaults};

use tidemark_operator::backup_policy::validate::validate;

mod support;
use support::fixtures::{defaults, example, golden, webshop};

const KEY: &str = "postgres/webshop/webshop/20261123T090000Z.dump.zst.age";

/// What the chart passes for `runner.imagePullSecrets`, `runner.resources`,
/// `runner.nodeSelector` and `runner.tolerations` (the JSON of TIDEMARK_JOB_DEFAULTS).
const CHART_DEFAULTS: &str = r#"{
  "imagePullSecrets": [{"name": "regcred"}],
  "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
  "nodeSelector": {"tidemark.dev/pool": "backup"},
  "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backup", "effect": "NoSchedule"}]
}"#;

fn chart_defaults() -> JobDefaults {
    JobDefaults {
        pod: PodDefaults::from_json(CHART_DEFAULTS).unwrap(),
        ..defaults()
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The webshop policy without its own pod settings.
fn bare_policy() -> BackupPolicy {
    let mut policy = webshop();
    policy.spec.job_template.resources = None;
    policy
}

fn request(file: &str) -> RestoreRequest {
    let mut rr: RestoreRequest = example(file);
    rr.metadata.uid = Some("7d2b4c1f-0000-4000-8000-000000000002".into());
    rr
}

/// Every Job the operator builds for `policy` and a RestoreRequest of it.
fn every_job(policy: &BackupPolicy, d: &JobDefaults) -> Vec<(&'static str, Job)> {
    let when = at("2026-11-23T11:00:00Z");
    let backup = scheduled_job_name("webshop", RunKind::Backup, when);
    let rr = request("restore-after-failed-migration.yaml");
    let source = BackupSource::of(&rr.spec, "webshop", Some(policy)).unwrap();
    let rr_name = "webshop-undo-migration";
    vec![
        (
            "backup",
            backup_job(
                policy,
                &validate(&policy.spec).unwrap(),
                backup.clone(),
                &Trigger::Scheduled(when),
                d,
            )
            .unwrap(),
        ),
        (
            "prune",
            prune_job(
                policy,
                &validate(&policy.spec).unwrap(),
                "webshop-prune".into(),
                &backup,
                d,
            )
            .unwrap(),
        ),
        (
            "verify",
            verify_job(
                policy,
                &validate(&policy.spec).unwrap(),
                "webshop-verify".into(),
                &Trigger::Scheduled(when),
                d,
            )
            .unwrap(),
        ),
        (
            "restore-test",
            restore_test_job(policy, "webshop-rt".into(), &Trigger::Scheduled(when), d).unwrap(),
        ),
        (
            "purge",
            purge_job(policy, "webshop-purge".into(), d).unwrap(),
        ),
        (
            "list",
            list_job(&rr, &source, request_job_name(rr_name, RunKind::List), d).unwrap(),
        ),
        (
            "restore",
            restore_job(
                &rr,
                &source,
                KEY,
                request_job_name(rr_name, RunKind::Restore),
                d,
            )
            .unwrap(),
        ),
        (
            "post-restore",
            post_restore_job(&rr, request_job_name(rr_name, RunKind::PostRestore), d).unwrap(),
        ),
    ]
}

fn pod(job: &Job) -> PodSpec {
    job.spec.clone().unwrap().template.spec.unwrap()
}

#[test]
fn every_job_gets_the_chart_defaults_when_its_template_sets_nothing() {
    let d = chart_defaults();
    for (kind, job) in every_job(&bare_policy(), &d) {
        let pod = pod(&job);
        assert_eq!(
            pod.image_pull_secrets,
            Some(d.pod.image_pull_secrets.clone()),
            "{kind}"
        );
        assert_eq!(
            pod.node_selector,
            Some(d.pod.node_selector.clone()),
            "{kind}"
        );
        assert_eq!(pod.tolerations, Some(d.pod.tolerations.clone()), "{kind}");
        assert_eq!(pod.containers[0].resources, d.pod.resources, "{kind}");
    }
}

#[test]
fn without_chart_defaults_jobs_are_as_before() {
    for (kind, job) in every_job(&bare_policy(), &defaults()) {
        let pod = pod(&job);
        assert_eq!(pod.image_pull_secrets, None, "{kind}");
        assert_eq!(pod.node_selector, None, "{kind}");
        assert_eq!(pod.tolerations, None, "{kind}");
        assert_eq!(pod.containers[0].resources, None, "{kind}");
    }
}

#[test]
fn a_setting_of_the_policy_wins_over_the_chart_and_the_others_still_default() {
    let d = chart_defaults();
    let mut policy = webshop(); // sets its own resources
    let own_tolerations = vec![Toleration {
        key: Some("team".into()),
        operator: Some("Exists".into()),
        ..Toleration::default()
    }];
    policy.spec.job_template.tolerations = own_tolerations.clone();
    let webshop_resources = policy.spec.job_template.resources.clone();
    assert!(webshop_resources.is_some());
    let when = at("2026-11-23T11:00:00Z");
    let job = backup_job(
        &policy,
        &validate(&policy.spec).unwrap(),
        "b".into(),
        &Trigger::Scheduled(when),
        &d,
    )
    .unwrap();
    let pod = pod(&job);
    // Taken as a whole from the policy: its tolerations only, its resources only.
    assert_eq!(pod.tolerations, Some(own_tolerations));
    assert_eq!(pod.containers[0].resources, webshop_resources);
    // Not set by the policy: the chart's.
    assert_eq!(pod.node_selector, Some(d.pod.node_selector.clone()));
    assert_eq!(
        pod.image_pull_secrets,
        Some(d.pod.image_pull_secrets.clone())
    );
}

#[test]
fn a_request_that_sets_its_own_settings_keeps_them() {
    let d = chart_defaults();
    let mut rr = request("restore-after-failed-migration.yaml");
    rr.spec.job_template.image_pull_secrets = vec![LocalObjectReference {
        name: "team-registry".into(),
    }];
    rr.spec.job_template.node_selector = BTreeMap::from([("zone".into(), "a".into())]);
    let policy = bare_policy();
    let source = BackupSource::of(&rr.spec, "webshop", Some(&policy)).unwrap();
    let job = restore_job(&rr, &source, KEY, "r".into(), &d).unwrap();
    let pod = pod(&job);
    assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "team-registry");
    assert_eq!(
        pod.node_selector.unwrap(),
        BTreeMap::from([("zone".into(), "a".into())])
    );
    assert_eq!(pod.tolerations, Some(d.pod.tolerations.clone()));
    assert_eq!(pod.containers[0].resources, d.pod.resources);
}

#[test]
fn the_backup_job_with_chart_defaults_matches_the_golden_yaml() {
    let when = at("2026-11-23T11:00:00Z");
    let name = scheduled_job_name("webshop", RunKind::Backup, when);
    let job = backup_job(
        &bare_policy(),
        &validate(&bare_policy().spec).unwrap(),
        name,
        &Trigger::Scheduled(when),
        &chart_defaults(),
    )
    .unwrap();
    golden("webshop-backup-job-chart-defaults.yaml", &job);
}
