//! `prune` against a real S3 server: a synthetic history of 200 backups keeps exactly
//! what an independent slow implementation keeps; neighbouring policies and unrelated
//! keys are never touched; orphans and multipart uploads go only after the grace
//! period; `--dry-run` deletes nothing; `--all` removes exactly the policy prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "retention_props/naive.rs"]
mod naive;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use common::*;
use futures::StreamExt;
use tidemark_crd::contract::keys::manifest_key;
use tidemark_runner::retention::{Backup, RetentionPolicy, Tier};
use tidemark_testkit::s3::{S3Server, pending_uploads};

/// Used by `naive`.
fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

const POLICY: RetentionPolicy = RetentionPolicy {
    hourly: 24,
    daily: 7,
    weekly: 4,
    monthly: 12,
    yearly: 3,
};

fn retention_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("TIDEMARK_KEEP_HOURLY", "24"),
        ("TIDEMARK_KEEP_DAILY", "7"),
        ("TIDEMARK_KEEP_WEEKLY", "4"),
        ("TIDEMARK_KEEP_MONTHLY", "12"),
        ("TIDEMARK_KEEP_YEARLY", "3"),
        ("TIDEMARK_TIME_ZONE", "Europe/Berlin"),
    ]
}

/// 200 completion times over about 15 months, newest first, an irregular schedule
/// (hourly bursts, daily runs, gaps of days), all distinct to the second.
fn history(newest: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut t = newest;
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut times = Vec::new();
    for _ in 0..200 {
        times.push(t);
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        t -= TimeDelta::seconds(match state % 10 {
            0 => 60,
            1..=4 => 3600 + (state % 600) as i64,
            5..=7 => 86_400 - (state % 4000) as i64,
            _ => 86_400 * (4 + (state % 12) as i64),
        });
    }
    times
}

/// Stores one synthetic backup per time (16 uploads at once); returns the backups.
async fn store_history(s3: &S3Server, policy: &str, times: &[DateTime<Utc>]) -> Vec<Backup> {
    futures::stream::iter(times.iter().enumerate())
        .map(|(i, t)| async move {
            let key = put_backup(s3, policy, *t, format!("backup {i}").into_bytes()).await;
            Backup::new(key, *t)
        })
        .buffer_unordered(16)
        .collect()
        .await
}

fn under<'a>(keys: &'a [String], prefix: &'a str) -> impl Iterator<Item = &'a String> + 'a {
    keys.iter().filter(move |k| k.starts_with(prefix))
}

/// Keys that are not the policy's own and must survive every prune of `web`.
const BYSTANDERS: [&str; 6] = [
    "tidemark/shop/web",
    "tidemark/shop/web.txt",
    "tidemark/shop/web/sub/20200101T000000Z.dump.zst",
    "tidemark/shop/web/README",
    "other/shop/web/20200101T000000Z.dump.zst",
    "tidemark/other/web/20200101T000000Z.dump.zst",
];

async fn store_bystanders(s3: &S3Server) {
    for key in BYSTANDERS {
        put_object(s3, key, b"not a backup of shop/web".to_vec()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_backups_keep_exactly_what_the_naive_walk_keeps() {
    let s3 = seaweed_bucket().await;
    let newest = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap() - TimeDelta::hours(1);
    let backups = store_history(&s3, "web", &history(newest)).await;
    assert_eq!(backups.len(), 200);
    // The neighbour `webshop` has old backups that its own retention would delete.
    let neighbour = store_history(&s3, "webshop", &history(newest)[150..]).await;
    store_bystanders(&s3).await;
    let before = all_keys(&s3).await;

    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let expected = naive::naive_tiers(&backups, &POLICY, tz);
    let expected_keys: BTreeSet<String> = expected.keys().cloned().collect();
    assert!(expected_keys.len() < 60 && expected_keys.len() > 20);
    let doomed = backups.len() - expected_keys.len();

    // Dry run: reports the same decision, deletes nothing.
    let mut env = retention_env();
    env.push(("TIDEMARK_DRY_RUN", "true"));
    let out = policy_run(&s3, "prune", "web", &env).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["prune"]["dryRun"], true);
    assert_eq!(report["prune"]["deletedCount"], doomed);
    assert_eq!(report["prune"]["keptCount"], expected_keys.len());
    assert_eq!(all_keys(&s3).await, before);

    let out = policy_run(&s3, "prune", "web", &retention_env())
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.termination_log.len() < 4096,
        "{}",
        out.termination_log.len()
    );
    let report = out.report.unwrap();
    let prune = &report["prune"];
    assert_eq!(prune["dryRun"], false);
    assert_eq!(prune["deletedCount"], doomed);
    assert_eq!(prune["keptCount"], expected_keys.len());
    assert_eq!(prune["orphansDeleted"], 0);
    // The kept list names backups by stamp with their tiers, newest first.
    let kept = prune["kept"].as_array().unwrap();
    assert!(!kept.is_empty());
    let newest_key = synthetic_key("web", newest - TimeDelta::minutes(2));
    assert!(newest_key.contains(kept[0]["stamp"].as_str().unwrap()));
    assert_eq!(kept[0]["tiers"][0], "newest");
    for k in kept {
        let stamp = k["stamp"].as_str().unwrap();
        let key = expected_keys.iter().find(|e| e.contains(stamp)).unwrap();
        let tiers: Vec<String> = expected[key]
            .iter()
            .map(|t| match t {
                Tier::Latest => "newest".to_string(),
                t => t.as_str().to_string(),
            })
            .collect();
        let reported: Vec<String> = k["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(reported, tiers, "{stamp}");
    }

    // Exactly the expected backups (data and manifest) remain directly under web/.
    let after = all_keys(&s3).await;
    let remaining: BTreeSet<String> = under(&after, "tidemark/shop/web/")
        .filter(|k| !BYSTANDERS.contains(&k.as_str()))
        .cloned()
        .collect();
    let wanted: BTreeSet<String> = expected_keys
        .iter()
        .flat_map(|k| [k.clone(), manifest_key(k)])
        .collect();
    assert_eq!(remaining, wanted);
    // The neighbour policy and every bystander are untouched.
    let neighbour_keys: Vec<&String> = under(&after, "tidemark/shop/webshop/").collect();
    assert_eq!(neighbour_keys.len(), neighbour.len() * 2);
    for key in BYSTANDERS {
        assert!(after.iter().any(|k| k == key), "{key} was deleted");
    }

    // Idempotent: a second run deletes nothing.
    let out = policy_run(&s3, "prune", "web", &retention_env())
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["prune"]["deletedCount"], 0);
    assert_eq!(all_keys(&s3).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_and_uploads_go_only_after_the_grace_period() {
    let s3 = seaweed_bucket().await;
    let now = Utc::now();
    let backup = put_backup(&s3, "web", now - TimeDelta::hours(2), vec![1; 64]).await;
    let old_orphan = synthetic_key("web", now - TimeDelta::hours(1));
    put_object(&s3, &old_orphan, vec![2; 64]).await;
    let old_upload = synthetic_key("web", now - TimeDelta::minutes(50));
    open_upload(&s3, &old_upload).await;
    // The neighbour's leftovers are just as old.
    let neighbour_orphan = synthetic_key("webshop", now - TimeDelta::hours(1));
    put_object(&s3, &neighbour_orphan, vec![3; 64]).await;
    let neighbour_upload = synthetic_key("webshop", now - TimeDelta::minutes(50));
    open_upload(&s3, &neighbour_upload).await;
    store_bystanders(&s3).await;

    tokio::time::sleep(Duration::from_secs(5)).await;
    let young_orphan = synthetic_key("web", now - TimeDelta::minutes(1));
    put_object(&s3, &young_orphan, vec![4; 64]).await;
    let young_upload = synthetic_key("web", now);
    open_upload(&s3, &young_upload).await;

    let mut env = retention_env();
    env.push(("TIDEMARK_ORPHAN_GRACE_PERIOD", "3s"));
    env.push(("TIDEMARK_DRY_RUN", "1"));
    let out = policy_run(&s3, "prune", "web", &env).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let prune = out.report.unwrap()["prune"].clone();
    assert_eq!(prune["orphansDeleted"], 1);
    assert_eq!(prune["uploadsAborted"], 1);
    assert_eq!(
        pending_uploads(&s3.client(), BUCKET).await.unwrap().len(),
        3
    );
    assert!(all_keys(&s3).await.contains(&old_orphan));

    env.pop();
    let out = policy_run(&s3, "prune", "web", &env).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let prune = out.report.unwrap()["prune"].clone();
    assert_eq!(prune["orphansDeleted"], 1);
    assert_eq!(prune["uploadsAborted"], 1);
    assert_eq!(prune["deletedCount"], 0);
    assert_eq!(prune["bytesDeleted"], 64);

    let keys = all_keys(&s3).await;
    assert!(!keys.contains(&old_orphan));
    for key in [
        &backup,
        &manifest_key(&backup),
        &young_orphan,
        &neighbour_orphan,
    ] {
        assert!(keys.contains(key), "{key} was deleted");
    }
    for key in BYSTANDERS {
        assert!(keys.iter().any(|k| k == key), "{key} was deleted");
    }
    let mut uploads = pending_uploads(&s3.client(), BUCKET).await.unwrap();
    uploads.sort();
    let mut expected = vec![neighbour_upload, young_upload];
    expected.sort();
    assert_eq!(uploads, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_removes_exactly_the_policy_prefix() {
    let s3 = seaweed_bucket().await;
    let now = Utc::now();
    for hours in 1..=5 {
        put_backup(&s3, "web", now - TimeDelta::hours(hours), vec![5; 100]).await;
        put_backup(&s3, "webshop", now - TimeDelta::hours(hours), vec![6; 100]).await;
    }
    let orphan = synthetic_key("web", now);
    put_object(&s3, &orphan, vec![7; 10]).await;
    open_upload(&s3, &synthetic_key("web", now)).await;
    let neighbour_upload = synthetic_key("webshop", now);
    open_upload(&s3, &neighbour_upload).await;
    store_bystanders(&s3).await;
    let before = all_keys(&s3).await;

    let out = policy_run(
        &s3,
        "prune",
        "web",
        &[("TIDEMARK_PRUNE_ALL", "true"), ("TIDEMARK_DRY_RUN", "true")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["prune"]["deletedCount"], 5);
    assert_eq!(all_keys(&s3).await, before);

    let out = policy_run(&s3, "prune", "web", &[("TIDEMARK_PRUNE_ALL", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let prune = out.report.unwrap()["prune"].clone();
    assert_eq!(prune["deletedCount"], 5);
    assert_eq!(prune["keptCount"], 0);
    // The orphan, README and the deeper key (everything else under web/).
    assert_eq!(prune["orphansDeleted"], 3);
    assert_eq!(prune["uploadsAborted"], 1);

    let expected: Vec<String> = before
        .iter()
        .filter(|k| !k.starts_with("tidemark/shop/web/"))
        .cloned()
        .collect();
    assert_eq!(all_keys(&s3).await, expected);
    assert_eq!(expected.len(), 10 + 4, "{expected:?}");
    assert_eq!(
        pending_uploads(&s3.client(), BUCKET).await.unwrap(),
        vec![neighbour_upload]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_without_any_retention_tier_is_refused() {
    let s3 = seaweed_bucket().await;
    put_backup(&s3, "web", Utc::now() - TimeDelta::days(3), vec![1; 10]).await;
    put_backup(&s3, "web", Utc::now(), vec![1; 10]).await;
    let before = all_keys(&s3).await;
    let out = policy_run(&s3, "prune", "web", &[]).run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["command"], "prune");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TIDEMARK_KEEP_DAILY")
    );
    let out = policy_run(
        &s3,
        "prune",
        "web",
        &[("TIDEMARK_TIME_ZONE", "Mars/Olympus")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(2));
    assert_eq!(all_keys(&s3).await, before);
}
