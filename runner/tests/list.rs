//! `list` against a real S3 server: the table and the JSON array show the policy's
//! backups (and only those with a manifest, only this policy's), the selector resolves
//! latest / key / before, and a failed selection still reports the summary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use common::*;
use serde_json::Value;
use tidemark_crd::contract::keys::manifest_key;

struct Setup {
    s3: tidemark_testkit::s3::S3Server,
    /// (key, completed) oldest first.
    backups: Vec<(String, DateTime<Utc>)>,
}

async fn setup() -> Setup {
    let s3 = seaweed_bucket().await;
    let base = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap() - TimeDelta::days(2);
    let mut backups = Vec::new();
    for hours in [0, 6, 12, 30] {
        let at = base + TimeDelta::hours(hours);
        let key = put_backup(&s3, "web", at, vec![9; 3000 + hours as usize]).await;
        backups.push((key, at));
    }
    // Not backups of shop/web: a neighbour's, a data object without manifest, a
    // manifest that does not parse, a deeper key.
    put_backup(&s3, "webshop", base + TimeDelta::hours(40), vec![1; 10]).await;
    put_object(
        &s3,
        &synthetic_key("web", base + TimeDelta::hours(41)),
        vec![1],
    )
    .await;
    let garbled = synthetic_key("web", base + TimeDelta::hours(42));
    put_object(&s3, &garbled, vec![1]).await;
    put_object(&s3, &manifest_key(&garbled), b"[]".to_vec()).await;
    put_object(
        &s3,
        "tidemark/shop/web/old/20200101T000000Z.dump.zst.manifest.json",
        b"{}".to_vec(),
    )
    .await;
    Setup { s3, backups }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_prints_the_inventory_and_resolves_selectors() {
    let Setup { s3, backups } = setup().await;
    let keys: Vec<&str> = backups.iter().map(|b| b.0.as_str()).collect();

    // Table with tiers.
    let out = policy_run(
        &s3,
        "list",
        "web",
        &[("TIDEMARK_KEEP_DAILY", "2"), ("TIDEMARK_TIME_ZONE", "UTC")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 4 + 1, "{}", out.stdout);
    assert!(lines[0].starts_with("KEY"));
    assert!(lines[0].contains("SHA256") && lines[0].ends_with("TIERS"));
    for (line, (key, at)) in lines[1..5].iter().zip(&backups) {
        assert!(line.starts_with(key.as_str()), "{line}");
        assert!(line.contains(&rfc(*at)), "{line}");
        assert!(line.contains("KiB"), "{line}");
    }
    assert!(
        lines[4].trim_end().ends_with("newest,daily"),
        "{}",
        lines[4]
    );
    let report: Value = out.report.unwrap();
    assert_eq!(report["command"], "list");
    let list = &report["list"];
    assert_eq!(list["count"], 4);
    assert_eq!(list["totalStoredBytes"], 4 * 3000 + 6 + 12 + 30);
    assert_eq!(list["selected"]["key"], keys[3]);

    // JSON: one array, oldest first, then the report line.
    let out = policy_run(&s3, "list", "web", &[("TIDEMARK_LIST_OUTPUT", "json")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    let rows: Vec<Value> = serde_json::from_str(lines[0]).unwrap();
    let listed: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(listed, keys);
    assert_eq!(rows[0]["storedSize"], 3000);
    assert_eq!(rows[0]["totalRows"], 42);
    assert_eq!(rows[0]["sha256"].as_str().unwrap().len(), 64);
    assert!(rows[0].get("tiers").is_none());

    // Selectors: before picks the newest strictly earlier backup; a key picks itself.
    let pick = |env: Vec<(&str, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = policy_run(&s3, "list", "web", &env).run().unwrap();
        (out.code, out.report.unwrap())
    };
    let (code, report) = pick(vec![("TIDEMARK_BACKUP_BEFORE", rfc(backups[2].1))]);
    assert_eq!(code, Some(0));
    assert_eq!(report["list"]["selected"]["key"], keys[1]);
    let (_, report) = pick(vec![(
        "TIDEMARK_BACKUP_BEFORE",
        rfc(backups[2].1 + TimeDelta::seconds(1)),
    )]);
    assert_eq!(report["list"]["selected"]["key"], keys[2]);
    let (_, report) = pick(vec![("TIDEMARK_BACKUP_KEY", keys[0].to_string())]);
    assert_eq!(report["list"]["selected"]["key"], keys[0]);
    assert_eq!(
        report["list"]["selected"]["completedAt"],
        backups[0].1.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    );

    // No backup before the oldest: a check failure that still reports the summary.
    let (code, report) = pick(vec![("TIDEMARK_BACKUP_BEFORE", rfc(backups[0].1))]);
    assert_eq!(code, Some(3));
    assert_eq!(report["error"]["reason"], "NoBackupFound");
    assert_eq!(report["list"]["count"], 4);
    assert!(report["list"].get("selected").is_none());
    // An unknown key (here: a data object without manifest) is a configuration error.
    let lonely = synthetic_key("web", backups[0].1 + TimeDelta::hours(41));
    let (code, report) = pick(vec![("TIDEMARK_BACKUP_KEY", lonely)]);
    assert_eq!(code, Some(2));
    assert_eq!(report["error"]["reason"], "BackupNotFound");
    // Both at once are refused.
    let (code, _) = pick(vec![
        ("TIDEMARK_BACKUP_KEY", keys[0].to_string()),
        ("TIDEMARK_BACKUP_BEFORE", rfc(backups[2].1)),
    ]);
    assert_eq!(code, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_policy_lists_nothing_and_succeeds() {
    let s3 = seaweed_bucket().await;
    let out = policy_run(&s3, "list", "web", &[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("(no backups)"));
    let report = out.report.unwrap();
    assert_eq!(report["list"]["count"], 0);
    assert!(report["list"].get("selected").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_endpoint_without_a_region_asks_no_instance_metadata_service() {
    // Without AWS_REGION, the SDK's default region chain ends at IMDS (169.254.169.254):
    // warnings and timeouts on every run against an S3-compatible server.
    let s3 = seaweed_bucket().await;
    let mut run = policy_run(&s3, "list", "web", &[]);
    run.env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_EC2_METADATA_DISABLED");
    let out = run.run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("(no backups)"), "{}", out.stdout);
    let stderr = out.stderr.to_lowercase();
    assert!(
        !stderr.contains("imds") && !stderr.contains("metadata"),
        "{}",
        out.stderr
    );
}
