//! End-to-end tests of the BackupPolicy controller: the operator binary against the
//! API stand-in, Jobs run by the executor with the real runner, real PostgreSQL and
//! SeaweedFS. Each test starts its own [`Cluster`]; cron ticks are whole minutes, so
//! only the tests that are about schedules wait for one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::json;
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::status::VerificationState;
use tidemark_crd::contract::keys::{backup_key, manifest_key};
use tidemark_testkit::cluster::{BUCKET, Cluster, ClusterOptions, IDENTITY_SECRET, PREFIX};

const POLICY: &str = "webshop";
const SCHEDULED_ANNOTATION: &str = "tidemark.dev/scheduled-time";

fn status(p: &BackupPolicy) -> &tidemark_crd::BackupPolicyStatus {
    p.status.as_ref().expect("a status")
}

fn condition(p: &BackupPolicy, kind: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.clone())
}

/// The run-now value was handled and its backup recorded.
fn handled(value: &str) -> impl Fn(&BackupPolicy) -> bool + '_ {
    move |p| {
        p.status.as_ref().is_some_and(|s| {
            s.last_run_now.as_deref() == Some(value)
                && s.last_backup
                    .as_ref()
                    .and_then(|b| b.job_name.as_deref())
                    .is_some_and(|j| j.contains("-now-"))
                && s.active.is_empty()
        })
    }
}

/// Backup Jobs created for a scheduled tick (they carry the scheduled-time annotation).
async fn scheduled_backup_jobs(cluster: &Cluster) -> Vec<(String, String)> {
    cluster
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| {
            j.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("tidemark.dev/run-kind"))
                .is_some_and(|k| k == "backup")
        })
        .filter_map(|j| {
            let at = j
                .metadata
                .annotations
                .as_ref()?
                .get(SCHEDULED_ANNOTATION)?
                .clone();
            Some((j.metadata.name?, at))
        })
        .collect()
}

/// The status's newest backup is the one the manifest in S3 describes, and it is in
/// the inventory.
async fn assert_status_matches_s3(cluster: &Cluster, policy: &BackupPolicy) {
    let s = status(policy);
    let last = s.last_backup.as_ref().expect("lastBackup");
    let manifest = cluster.manifest(&last.key).await.unwrap();
    assert_eq!(manifest.key, last.key);
    assert_eq!(manifest.sha256, last.sha256);
    assert_eq!(manifest.stored_size as i64, last.stored_bytes);
    assert_eq!(manifest.raw_size as i64, last.raw_bytes);
    assert_eq!(manifest.total_rows(), last.total_rows);
    assert_eq!(manifest.tables.len() as i32, last.table_count);
    assert_eq!(manifest.completed_at, last.completed_at);
    let entry = s
        .backups
        .iter()
        .find(|b| b.key == last.key)
        .expect("lastBackup in status.backups");
    assert_eq!(entry.sha256, manifest.sha256);
    assert_eq!(s.backup_count as usize, s.backups.len());
    let committed: BTreeSet<String> = cluster
        .committed_backups(POLICY)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let listed: BTreeSet<String> = s.backups.iter().map(|b| b.key.clone()).collect();
    assert_eq!(listed, committed, "status.backups vs. manifests in S3");
    let window = s.window.as_ref().expect("window");
    assert_eq!(window.newest, last.completed_at);
}

#[tokio::test]
async fn backs_up_on_schedule_and_via_run_now_with_status_matching_s3() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-schedule"))
        .await
        .unwrap();
    let mut policy = cluster.policy(POLICY);
    policy["spec"]["schedule"] = json!("* * * * *");
    policy["spec"]["startingDeadlineSeconds"] = json!(30);
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "now-1").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), handled("now-1"))
        .await
        .unwrap();
    assert_status_matches_s3(&cluster, &p).await;

    // The next minute's tick starts a scheduled backup, recorded as the newest.
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(100), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_schedule_time.is_some()
                    && s.active.is_empty()
                    && s.last_backup
                        .as_ref()
                        .and_then(|b| b.job_name.as_deref())
                        .is_some_and(|j| !j.contains("-now-"))
            })
        })
        .await
        .unwrap();
    let s = status(&p);
    let scheduled = scheduled_backup_jobs(&cluster).await;
    let job = s.last_backup.as_ref().unwrap().job_name.clone().unwrap();
    assert!(
        scheduled.iter().any(|(name, _)| *name == job),
        "{scheduled:?}"
    );
    // One Job per scheduled time.
    let times: BTreeSet<&String> = scheduled.iter().map(|(_, at)| at).collect();
    assert_eq!(times.len(), scheduled.len(), "{scheduled:?}");
    let last_tick = s.last_schedule_time.unwrap();
    let next = s.next_schedule_time.expect("nextScheduleTime");
    assert!(next > last_tick, "next {next} after last {last_tick}");
    assert_eq!(next.timestamp() % 60, 0, "ticks are whole minutes: {next}");
    assert_eq!(
        condition(&p, "LastBackupSucceeded").as_deref(),
        Some("True")
    );
    assert_eq!(condition(&p, "BackupFresh").as_deref(), Some("True"));
    assert_eq!(condition(&p, "Ready").as_deref(), Some("True"));
    assert_eq!(s.consecutive_failures, 0);
    assert_status_matches_s3(&cluster, &p).await;
    cluster.assert_no_secret_leaks().await.unwrap();
}

/// Copies a real backup to `completed` (data object, globals object and a manifest
/// rewritten for the new keys and times), as if an earlier run had stored it.
async fn plant_backup(cluster: &Cluster, real_key: &str, completed: DateTime<Utc>) -> String {
    let ext = real_key
        .rsplit('/')
        .next()
        .and_then(|name| name.split_once('.'))
        .map(|(_, ext)| ext.to_string())
        .unwrap();
    let started = completed - ChronoDuration::seconds(2);
    let key = backup_key(PREFIX, cluster.namespace(), POLICY, started, &ext);
    let mut manifest = cluster.manifest(real_key).await.unwrap();
    manifest.key = key.clone();
    manifest.started_at = started;
    manifest.completed_at = completed;
    let client = cluster.s3().client();
    let data = tidemark_testkit::s3::download(&client, BUCKET, real_key)
        .await
        .unwrap();
    let mut objects = vec![(key.clone(), data)];
    // Its own copy of the globals object (roles and settings): pruning the planted
    // backup deletes the globals object its manifest lists.
    if let Some(globals) = manifest.globals.as_mut() {
        let body = tidemark_testkit::s3::download(&client, BUCKET, &globals.key)
            .await
            .unwrap();
        globals.key = format!("{key}{}", &globals.key[real_key.len()..]);
        objects.push((globals.key.clone(), body));
    }
    objects.push((manifest_key(&key), serde_json::to_vec(&manifest).unwrap()));
    for (k, body) in objects {
        client
            .put_object()
            .bucket(BUCKET)
            .key(k)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    key
}

/// Grandfather-father-son with hourly periods only: the newest backup of each of the
/// last `hours` hours that have one (UTC), plus the newest overall.
fn expected_hourly(backups: &BTreeMap<String, DateTime<Utc>>, hours: usize) -> BTreeSet<String> {
    let mut by_hour: BTreeMap<DateTime<Utc>, (DateTime<Utc>, String)> = BTreeMap::new();
    for (key, at) in backups {
        let hour = at.duration_trunc(ChronoDuration::hours(1)).unwrap();
        let entry = by_hour.entry(hour).or_insert((*at, key.clone()));
        if *at > entry.0 {
            *entry = (*at, key.clone());
        }
    }
    by_hour
        .values()
        .rev()
        .take(hours)
        .map(|(_, k)| k.clone())
        .collect()
}

#[tokio::test]
async fn retention_keeps_the_newest_backup_of_each_recent_hour_after_several_runs() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-retention"))
        .await
        .unwrap();
    let mut policy = cluster.policy(POLICY);
    policy["spec"]["retention"] = json!({"hourly": 3, "daily": 0, "weekly": 0});
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "first").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), handled("first"))
        .await
        .unwrap();
    let first = status(&p).last_backup.clone().unwrap();

    // Earlier runs, as if the policy had been running for hours.
    let hour = Utc::now().duration_trunc(ChronoDuration::hours(1)).unwrap();
    for offset_minutes in [-50, -20, -90, -150, -210] {
        plant_backup(
            &cluster,
            &first.key,
            hour + ChronoDuration::minutes(offset_minutes),
        )
        .await;
    }
    let mut all = BTreeMap::new();
    for key in cluster.committed_backups(POLICY).await.unwrap() {
        all.insert(
            key.clone(),
            cluster.manifest(&key).await.unwrap().completed_at,
        );
    }
    assert_eq!(all.len(), 6);

    // Every backup that ever existed: the planted ones, the first, and one per run.
    let mut ever = all;
    for value in ["second", "third"] {
        // Keys have one-second resolution: two backups started within the same second
        // get the same key (the later replaces the earlier), so runs are spaced here.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        cluster.run_now(POLICY, value).await.unwrap();
        let p = cluster
            .wait_for_policy(POLICY, Duration::from_secs(60), handled(value))
            .await
            .unwrap();
        let b = status(&p).last_backup.clone().unwrap();
        ever.insert(b.key, b.completed_at);
    }
    assert_eq!(ever.len(), 8);
    // The prune after the last backup has finished and is recorded.
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(30), |p| {
            let s = status(p);
            s.active.is_empty() && s.backups.len() <= 3
        })
        .await
        .unwrap();
    let newest = status(&p).last_backup.clone().unwrap();
    let kept: BTreeSet<String> = cluster
        .committed_backups(POLICY)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let expected = expected_hourly(&ever, 3);
    assert!(kept.contains(&newest.key), "the newest backup is kept");
    assert_eq!(kept, expected, "kept by hourly: 3");
    // No orphans: every data object left has its manifest and its globals object, and
    // vice versa.
    assert_eq!(
        cluster.policy_keys(POLICY).await.unwrap().len(),
        kept.len() * 3
    );
    // The inventory in status lists only retained backups, the newest first. (It lists
    // what the operator recorded itself: backups it did not make, like the planted ones,
    // are not added from the prune report, which names kept backups by stamp only.)
    let s = status(&p);
    let listed: BTreeSet<String> = s.backups.iter().map(|b| b.key.clone()).collect();
    assert!(
        listed.is_subset(&kept),
        "status.backups {listed:?} ⊆ kept {kept:?}"
    );
    assert_eq!(s.backups[0].key, newest.key);
    assert!(
        s.backups[0].tiers.iter().any(|t| t == "newest"),
        "{:?}",
        s.backups[0].tiers
    );
    for entry in &s.backups {
        assert!(entry.tiers.iter().any(|t| t == "hourly"), "{entry:?}");
    }
    let oldest = s.backups.iter().map(|b| b.completed_at).min().unwrap();
    assert_eq!(s.window.as_ref().unwrap().oldest, oldest);
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn verification_and_restore_test_report_in_status() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-verify").age())
        .await
        .unwrap();
    let mut policy = cluster.policy(POLICY);
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "first").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), handled("first"))
        .await
        .unwrap();
    let backup = status(&p).last_backup.clone().unwrap();
    assert!(backup.key.ends_with(".age"), "encrypted: {}", backup.key);

    // With a backup in place, verification and restore tests on every minute.
    policy["spec"]["runNow"] = json!("first");
    policy["spec"]["verification"] =
        json!({"enabled": true, "schedule": "* * * * *", "maxAge": "2h", "minSize": "1Ki"});
    policy["spec"]["restoreTest"] = json!({
        "enabled": true, "schedule": "* * * * *",
        "target": {"ephemeral": {"image": "postgres:16"}}, "deadlineSeconds": 300,
        "decryptionIdentitySecretRef": {"name": IDENTITY_SECRET, "key": "identity"},
    });
    cluster.apply_json(&policy).await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(130), |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.last_verification.is_some() && s.last_restore_test.is_some())
        })
        .await
        .unwrap();
    let s = status(&p);
    let verification = s.last_verification.as_ref().unwrap();
    assert!(verification.passed, "{verification:?}");
    assert_eq!(verification.key.as_deref(), Some(backup.key.as_str()));
    for check in ["ChecksumMatches", "SizeMatches", "MinimumSize", "Fresh"] {
        assert!(
            verification
                .checks
                .iter()
                .any(|c| c.name == check && c.passed),
            "{check} in {:?}",
            verification.checks
        );
    }
    let entry = s.backups.iter().find(|b| b.key == backup.key).unwrap();
    assert_eq!(entry.verification, VerificationState::Verified);
    assert_eq!(condition(&p, "Verified").as_deref(), Some("True"));

    let test = s.last_restore_test.as_ref().unwrap();
    assert!(test.passed, "{test:?}");
    assert_eq!(test.key.as_deref(), Some(backup.key.as_str()));
    assert_eq!(test.tables_compared, 5);
    assert!(test.mismatches.is_empty(), "{:?}", test.mismatches);
    assert!(test.restore_duration_seconds.is_some_and(|d| d > 0.0));
    assert_eq!(condition(&p, "RestoreTested").as_deref(), Some("True"));
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn a_killed_runner_leaves_a_failure_and_no_manifest_and_the_next_run_succeeds() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-killed"))
        .await
        .unwrap();
    // pg_dump waits for this lock, so the runner is mid-run when the executor kills it.
    let lock = cluster.lock_table("webshop", "public.orders").unwrap();
    let mut policy = cluster.policy(POLICY);
    policy["spec"]["jobTemplate"]["annotations"] =
        json!({"tidemark.dev/test-kill-after-seconds": "6"});
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "doomed").await.unwrap();
    lock.wait_for_waiter(Duration::from_secs(30)).unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.last_failure.is_some() && s.active.is_empty())
        })
        .await
        .unwrap();
    lock.release().unwrap();
    let s = status(&p);
    let failure = s.last_failure.as_ref().unwrap();
    assert_eq!(failure.kind, "backup");
    assert!(
        failure
            .job_name
            .as_deref()
            .is_some_and(|j| j.contains("-now-")),
        "{failure:?}"
    );
    assert_eq!(failure.exit_code, Some(137), "SIGKILL: {failure:?}");
    assert!(!failure.message.is_empty());
    assert_eq!(s.consecutive_failures, 1);
    assert!(s.last_backup.is_none());
    assert_eq!(
        condition(&p, "LastBackupSucceeded").as_deref(),
        Some("False")
    );
    assert!(cluster.committed_backups(POLICY).await.unwrap().is_empty());
    assert!(
        !cluster
            .policy_keys(POLICY)
            .await
            .unwrap()
            .iter()
            .any(|k| k.ends_with(".manifest.json"))
    );
    // No prune after a failed backup.
    assert!(cluster.job_names("prune").await.unwrap().is_empty());

    cluster
        .patch_policy(
            POLICY,
            json!({"spec": {"jobTemplate": {"annotations": null}}}),
        )
        .await
        .unwrap();
    cluster.run_now(POLICY, "retry").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), handled("retry"))
        .await
        .unwrap();
    let s = status(&p);
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(
        condition(&p, "LastBackupSucceeded").as_deref(),
        Some("True")
    );
    assert_eq!(
        cluster.committed_backups(POLICY).await.unwrap(),
        vec![s.last_backup.as_ref().unwrap().key.clone()]
    );
    assert_status_matches_s3(&cluster, &p).await;
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn an_operator_restart_mid_run_creates_no_duplicate_job() {
    let mut cluster = Cluster::start(ClusterOptions::new("e2e_policy-restart"))
        .await
        .unwrap();
    let lock = cluster.lock_table("webshop", "public.orders").unwrap();
    cluster.apply_json(&cluster.policy(POLICY)).await.unwrap();
    cluster.run_now(POLICY, "during-restart").await.unwrap();
    lock.wait_for_waiter(Duration::from_secs(30)).unwrap();
    let before = cluster.job_names("backup").await.unwrap();
    assert_eq!(before.len(), 1, "{before:?}");

    cluster.kill_operator(0).unwrap();
    cluster.restart_operator(0).unwrap();
    // Give the restarted operator its initial list and a reconcile of the policy.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(cluster.job_names("backup").await.unwrap(), before);

    lock.release().unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), handled("during-restart"))
        .await
        .unwrap();
    assert_eq!(cluster.job_names("backup").await.unwrap(), before);
    assert_eq!(
        status(&p).last_backup.as_ref().unwrap().job_name.as_deref(),
        Some(before[0].as_str())
    );
    // Recorded exactly once: one backup in S3 and in the inventory.
    assert_eq!(cluster.committed_backups(POLICY).await.unwrap().len(), 1);
    assert_eq!(status(&p).backups.len(), 1);
    assert_eq!(
        status(&p)
            .recorded_jobs
            .iter()
            .filter(|j| **j == before[0])
            .count(),
        1
    );
    cluster.assert_no_secret_leaks().await.unwrap();
}

async fn two_runs_with_two_replicas(cluster: &Cluster) {
    cluster.apply_json(&cluster.policy(POLICY)).await.unwrap();
    for value in ["a", "b"] {
        // One-second key resolution: spaced so that the runs get distinct keys.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        cluster.run_now(POLICY, value).await.unwrap();
        cluster
            .wait_for_policy(POLICY, Duration::from_secs(60), handled(value))
            .await
            .unwrap();
    }
    // Let a slower replica act on what it saw.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cluster.job_names("backup").await.unwrap().len(), 2);
    assert_eq!(cluster.job_names("prune").await.unwrap().len(), 2);
    assert_eq!(cluster.committed_backups(POLICY).await.unwrap().len(), 1);
}

#[tokio::test]
async fn two_replicas_without_leader_election_create_each_run_once() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_policy-replicas").operators(2))
        .await
        .unwrap();
    two_runs_with_two_replicas(&cluster).await;
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn two_replicas_with_leader_election_create_each_run_once_and_fail_over() {
    let mut cluster = Cluster::start(
        ClusterOptions::new("e2e_policy-leader")
            .operators(2)
            .leader_election(true),
    )
    .await
    .unwrap();
    two_runs_with_two_replicas(&cluster).await;
    let leases: Api<Lease> = Api::namespaced(cluster.client(), cluster.namespace());
    let holder = leases
        .get("tidemark-operator")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity)
        .expect("a Lease holder");
    let leader: usize = holder
        .strip_prefix("operator-")
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("holder {holder}"));
    // Only the leader created Jobs.
    let follower = 1 - leader;
    assert!(
        !cluster
            .operator(follower)
            .unwrap()
            .log()
            .contains("\"job created\""),
        "the follower created a Job"
    );

    // Failover: the leader crashes; the other replica takes over and runs the next one.
    cluster.kill_operator(leader).unwrap();
    cluster.run_now(POLICY, "after-failover").await.unwrap();
    cluster
        .wait_for_policy(POLICY, Duration::from_secs(90), handled("after-failover"))
        .await
        .unwrap();
    assert_eq!(cluster.job_names("backup").await.unwrap().len(), 3);
    let new_holder = leases
        .get("tidemark-operator")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity);
    assert_eq!(new_holder, Some(format!("operator-{follower}")));
    cluster.assert_no_secret_leaks().await.unwrap();
}
