//! A backup exists only when its manifest *and* its data object with the manifest's size
//! exist. Against a real S3 server: a manifest whose data object was removed, and one
//! whose data object has another size, are never the newest, never selected, never kept
//! by a retention tier in place of a good backup, never deleted, and always reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::*;
use serde_json::Value;
use tidemark_crd::contract::keys::manifest_key;

struct History {
    s3: tidemark_testkit::s3::S3Server,
    /// Good backups, oldest first.
    good: Vec<String>,
    /// The newest backup, whose data object is gone.
    missing: String,
    /// A backup whose data object was replaced by a shorter one.
    short: String,
}

/// Three good backups an hour apart, then (newer than all of them, within the same
/// day) one whose data object is missing and one whose data object is truncated.
async fn history() -> History {
    let s3 = seaweed_bucket().await;
    let day = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap() - TimeDelta::days(1);
    let at = |h: i64, m: i64| day + TimeDelta::hours(h) + TimeDelta::minutes(m);
    let mut good = Vec::new();
    for h in [8, 9, 10] {
        good.push(put_backup(&s3, "web", at(h, 10), vec![7; 2000 + h as usize]).await);
    }
    let short = put_backup(&s3, "web", at(10, 40), vec![1; 3000]).await;
    put_object(&s3, &short, vec![1; 1000]).await;
    let missing = put_backup(&s3, "web", at(10, 50), vec![2; 3000]).await;
    s3.client()
        .delete_object()
        .bucket(BUCKET)
        .key(&missing)
        .send()
        .await
        .unwrap();
    History {
        s3,
        good,
        missing,
        short,
    }
}

fn run(
    s3: &tidemark_testkit::s3::S3Server,
    cmd: &str,
    env: &[(&str, &str)],
) -> (i32, Value, String) {
    let out = policy_run(s3, cmd, "web", env).run().unwrap();
    (
        out.code.unwrap_or(-1),
        out.report.unwrap_or(Value::Null),
        out.stdout,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_backups_are_listed_as_broken_and_never_selected() {
    let h = history().await;
    let (code, report, stdout) = run(&h.s3, "list", &[("TIDEMARK_LIST_OUTPUT", "json")]);
    assert_eq!(code, 0, "{stdout}");
    let rows: Vec<Value> = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let good: Vec<&str> = rows
        .iter()
        .filter(|r| r.get("broken").is_none())
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(good, h.good.iter().map(String::as_str).collect::<Vec<_>>());
    let broken: Vec<(&str, &str)> = rows
        .iter()
        .filter_map(|r| Some((r["key"].as_str()?, r.get("broken")?.as_str()?)))
        .collect();
    assert_eq!(broken.len(), 2, "{rows:?}");
    assert!(
        broken
            .iter()
            .any(|(k, why)| *k == h.missing && why.contains("missing"))
    );
    assert!(
        broken
            .iter()
            .any(|(k, why)| *k == h.short && why.contains("1000 bytes"))
    );
    assert_eq!(report["list"]["count"], 3);
    assert_eq!(report["list"]["brokenCount"], 2, "{report}");
    assert_eq!(
        report["list"]["broken"],
        serde_json::json!([h.missing, h.short]),
        "newest broken first: {report}"
    );
    assert_eq!(report["list"]["selected"]["key"], h.good[2].as_str());

    // The table shows them apart.
    let (code, _, table) = run(&h.s3, "list", &[]);
    assert_eq!(code, 0);
    let (_, after) = table.split_once("BROKEN").expect(&table);
    assert!(
        after.contains(&h.missing) && after.contains(&h.short),
        "{table}"
    );

    // Named: a check failure saying why; "before" a time after them: the good one.
    for key in [&h.missing, &h.short] {
        let (code, report, _) = run(&h.s3, "list", &[("TIDEMARK_BACKUP_KEY", key)]);
        assert_eq!(code, 3, "{report}");
        assert_eq!(report["error"]["reason"], "BackupIncomplete");
    }
    let (code, report, _) = run(
        &h.s3,
        "list",
        &[("TIDEMARK_BACKUP_BEFORE", &rfc(Utc::now()))],
    );
    assert_eq!(code, 0);
    assert_eq!(report["list"]["selected"]["key"], h.good[2].as_str());

    // verify of the latest manifest finds the broken one (that is its job).
    let (code, report, _) = run(&h.s3, "verify", &[]);
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["verify"]["key"], h.missing.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_never_keeps_a_broken_backup_in_place_of_a_good_one() {
    let h = history().await;
    for env in [
        vec![("TIDEMARK_KEEP_HOURLY", "1")],
        vec![("TIDEMARK_KEEP_DAILY", "2"), ("TIDEMARK_TIME_ZONE", "UTC")],
    ] {
        let (code, report, stdout) = run(&h.s3, "prune", &env);
        assert_eq!(code, 0, "{stdout}");
        let keys = all_keys(&h.s3).await;
        // The newest good backup survives whole; the broken ones are left as they were.
        for k in [&h.good[2], &h.missing, &h.short] {
            assert!(
                keys.contains(&manifest_key(k)),
                "{k} manifest gone: {keys:?}"
            );
        }
        assert!(keys.contains(&h.good[2]), "{keys:?}");
        assert!(keys.contains(&h.short), "{keys:?}");
        assert_eq!(report["prune"]["keptCount"], 1, "{report}");
        assert_eq!(report["prune"]["brokenCount"], 2, "{report}");
        let kept = report["prune"]["kept"][0]["stamp"].as_str().unwrap();
        assert!(h.good[2].contains(kept), "{kept} {report}");
    }
    // Only the newest good backup and the broken ones remain.
    let keys = all_keys(&h.s3).await;
    assert!(
        !keys.contains(&h.good[0]) && !keys.contains(&h.good[1]),
        "{keys:?}"
    );
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
