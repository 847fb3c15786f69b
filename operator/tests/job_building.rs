//! Golden and property tests of the Jobs built for the webshop example.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use tidemark_operator::backup_policy::jobs::{Trigger, backup_job};
use tidemark_operator::naming::{RunKind, scheduled_job_name};

use tidemark_operator::backup_policy::validate::validate;

mod support;
use support::fixtures::{assert_secret_refs, defaults, golden, webshop};

fn scheduled_backup() -> Job {
    let when: DateTime<Utc> = "2026-11-23T11:00:00Z".parse().unwrap();
    let policy = webshop();
    let name = scheduled_job_name("webshop", RunKind::Backup, when);
    backup_job(
        &policy,
        &validate(&policy.spec).unwrap(),
        name,
        &Trigger::Scheduled(when),
        &defaults(),
    )
    .unwrap()
}

#[test]
fn the_webshop_backup_job_matches_the_golden_yaml() {
    golden("webshop-backup-job.yaml", &scheduled_backup());
}

#[test]
fn credentials_are_secret_references_never_values() {
    let job = scheduled_backup();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let c = &pod.containers[0];
    assert_secret_refs(c.env.as_ref().unwrap());
    assert_eq!(
        c.args.as_deref(),
        Some(&["backup".to_string()][..]),
        "no secret in arguments"
    );
}

#[test]
fn the_pod_is_hardened() {
    let job = scheduled_backup();
    let spec = job.spec.unwrap();
    assert_eq!(spec.active_deadline_seconds, Some(3300));
    assert_eq!(spec.ttl_seconds_after_finished, Some(86_400));
    assert_eq!(spec.backoff_limit, Some(1));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let sc = pod.containers[0].security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop.unwrap(), vec!["ALL"]);
    // The only writable path is a size-limited /tmp.
    let writable: Vec<_> = pod
        .volumes
        .unwrap()
        .into_iter()
        .filter(|v| v.empty_dir.is_some())
        .collect();
    assert_eq!(writable.len(), 1);
}

#[test]
fn jobs_are_owned_by_the_policy_and_labelled() {
    let job = scheduled_backup();
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("BackupPolicy", "webshop")
    );
    assert_eq!(owner.controller, Some(true));
    let labels = job.metadata.labels.unwrap();
    assert_eq!(labels["tidemark.dev/policy"], "webshop");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "tidemark-operator");
    assert_eq!(
        job.metadata.annotations.unwrap()["tidemark.dev/scheduled-time"],
        "2026-11-23T11:00:00+00:00"
    );
}

#[test]
fn a_policy_without_uid_cannot_own_a_job() {
    let mut policy = webshop();
    policy.metadata.uid = None;
    let r = backup_job(
        &policy,
        &validate(&policy.spec).unwrap(),
        "x".into(),
        &Trigger::RunNow("1".into()),
        &defaults(),
    );
    assert!(r.is_err());
}

#[test]
fn the_policy_image_overrides_the_operator_default() {
    let mut policy = webshop();
    policy.spec.job_template.image = Some("registry.example/runner:dev".into());
    let job = backup_job(
        &policy,
        &validate(&policy.spec).unwrap(),
        "x".into(),
        &Trigger::RunNow("1".into()),
        &defaults(),
    )
    .unwrap();
    let image = job.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("registry.example/runner:dev"));
}
