//! A first backup without waiting: `spec.immediate` takes one backup as soon as the policy
//! exists, and the `tidemark.dev/run-now` annotation one more per new token, without a
//! spec change (what GitOps tools that revert spec drift need). The operator binary
//! against the API stand-in, the real runner, PostgreSQL and SeaweedFS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tidemark_testkit::cluster::{Cluster, ClusterOptions};

const POLICY: &str = "weekly";

#[tokio::test]
async fn immediate_and_the_run_now_annotation_each_start_one_backup() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-on-demand"))
        .await
        .unwrap();
    let mut policy = cluster.policy(POLICY);
    // Weekly, on a day far from now: nothing scheduled runs during the test.
    policy["spec"]["schedule"] = json!("0 3 * * 0");
    policy["spec"]["immediate"] = json!(true);
    cluster.apply_json(&policy).await.unwrap();

    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(120), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.immediate_backup.is_some() && s.last_backup.is_some() && s.active.is_empty()
            })
        })
        .await
        .unwrap();
    let s = p.status.unwrap();
    let immediate = s.immediate_backup.clone().unwrap();
    let first_key = s.last_backup.clone().unwrap().key;
    assert_eq!(
        cluster.job_names("backup").await.unwrap(),
        vec![immediate.clone()]
    );
    assert_eq!(cluster.committed_backups(POLICY).await.unwrap().len(), 1);

    // A new token on the annotation: one more backup, echoed in the status.
    cluster
        .patch_policy(
            POLICY,
            json!({"metadata": {"annotations": {"tidemark.dev/run-now": "deploy-42"}}}),
        )
        .await
        .unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(120), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_run_now_annotation.as_deref() == Some("deploy-42")
                    && s.active.is_empty()
                    && s.recorded_jobs.len() >= 2
            })
        })
        .await
        .unwrap();
    let s = p.status.unwrap();
    assert_eq!(s.immediate_backup.as_deref(), Some(immediate.as_str()));
    let jobs = cluster.job_names("backup").await.unwrap();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    // A second backup (retention may keep only the newest of the hour).
    let second_key = s.last_backup.clone().unwrap().key;
    assert_ne!(second_key, first_key);
    assert!(
        cluster
            .committed_backups(POLICY)
            .await
            .unwrap()
            .contains(&second_key)
    );

    // The same token again (another annotation changes): nothing new.
    cluster
        .patch_policy(
            POLICY,
            json!({"metadata": {"annotations": {"example.com/touched": "yes"}}}),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(cluster.job_names("backup").await.unwrap(), jobs);
}
