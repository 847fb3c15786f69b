//! A nightly policy with default settings: the operator derives rpo, verification.maxAge
//! and the backup deadline from the schedule's longest gap, publishes them in
//! `status.effective`, and neither freshness nor verification fails by its own defaults.
//! The operator binary against the API stand-in, the real runner, PostgreSQL, SeaweedFS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use tidemark_crd::BackupPolicy;
use tidemark_testkit::cluster::{Cluster, ClusterOptions};

const POLICY: &str = "nightly";

fn condition(p: &BackupPolicy, kind: &str) -> (String, String) {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == kind))
        .map(|c| (c.status.clone(), c.reason.clone()))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_nightly_policy_with_default_settings_is_fresh_and_verified() {
    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-nightly"))
        .await
        .unwrap();
    let mut policy = cluster.policy(POLICY);
    policy["spec"]["schedule"] = json!("0 2 * * *");
    policy["spec"]["timeZone"] = json!("Europe/Berlin");
    // Verification every minute with the defaults: no maxAge, no minSize.
    policy["spec"]["verification"] = json!({"enabled": true, "schedule": "* * * * *"});
    policy["spec"]["runNow"] = json!("first");
    cluster.apply_json(&policy).await.unwrap();

    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(150), |p| {
            // A verification of this backup (one may have run before it existed).
            p.status.as_ref().is_some_and(|s| {
                let key = s.last_backup.as_ref().map(|b| b.key.as_str());
                key.is_some()
                    && s.last_verification.as_ref().and_then(|v| v.key.as_deref()) == key
                    && s.active.is_empty()
            })
        })
        .await
        .unwrap();
    let s = p.status.clone().unwrap();
    let effective = s.effective.clone().unwrap();
    // 24h gap except for the autumn DST change (25h) in Berlin; deadline 11/12 of it.
    assert_eq!(effective.longest_gap, "25h", "{effective:?}");
    assert_eq!(effective.deadline_seconds, 25 * 3600 * 11 / 12);
    assert_eq!(effective.rpo, "47h55m");
    assert_eq!(effective.max_age, effective.rpo);
    let verification = s.last_verification.clone().unwrap();
    assert!(verification.passed, "{verification:?}");
    for check in ["MinimumSize", "Fresh", "NotShrunk"] {
        assert!(
            verification
                .checks
                .iter()
                .any(|c| c.name == check && c.passed),
            "{check} in {:?}",
            verification.checks
        );
    }
    assert_eq!(condition(&p, "Verified").0, "True");
    assert_eq!(condition(&p, "BackupFresh").0, "True");
    assert_eq!(condition(&p, "Ready").0, "True", "{:?}", s.conditions);
    // The backup Job got the derived deadline.
    let jobs = cluster.job_names("backup").await.unwrap();
    let job = cluster
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.metadata.name.as_deref() == jobs.first().map(String::as_str))
        .unwrap();
    assert_eq!(
        job.spec.unwrap().active_deadline_seconds,
        Some(effective.deadline_seconds)
    );

    // A set rpo shorter than the gap: Ready=False naming both fields; backups go on.
    policy["spec"]["rpo"] = json!("1h");
    cluster.apply_json(&policy).await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(30), |p| {
            condition(p, "Ready").1 == "RPOShorterThanSchedule"
        })
        .await
        .unwrap();
    let ready = p
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
        .unwrap();
    assert_eq!(ready.status, "False");
    assert!(
        ready.message.contains("spec.rpo") && ready.message.contains("spec.schedule"),
        "{}",
        ready.message
    );
    println!("e2e_policy_nightly wall time: {:?}", started.elapsed());
}
