//! `verify` against real servers: a fresh backup passes all six checks; a flipped byte,
//! a too small, too old, size-mismatched or missing object and a missing manifest each
//! fail the right check with exit code 3, and the report still lists the checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeDelta, Utc};
use common::*;
use serde_json::Value;
use tidemark_crd::contract::keys::manifest_key;
use tidemark_testkit::runner::RunnerOutput;

const NAMES: [&str; 7] = [
    "ManifestPresent",
    "ObjectPresent",
    "SizeMatches",
    "MinimumSize",
    "ChecksumMatches",
    "Fresh",
    "NotShrunk",
];

/// `(name, passed, message)` of each reported check.
fn checks(out: &RunnerOutput) -> Vec<(String, bool, String)> {
    let report = out.report.as_ref().expect("report line");
    report["verify"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["passed"].as_bool().unwrap(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn failed_names(out: &RunnerOutput) -> Vec<String> {
    checks(out)
        .into_iter()
        .filter(|c| !c.1)
        .map(|c| c.0)
        .collect()
}

fn assert_check_failure(out: &RunnerOutput, failed: &[&str]) {
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let report: &Value = out.report.as_ref().unwrap();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["error"]["kind"], "check");
    assert_eq!(report["error"]["reason"], "VerifyFailed");
    assert_eq!(failed_names(out), failed, "{:?}", checks(out));
    for name in failed {
        assert!(
            report["error"]["message"].as_str().unwrap().contains(name),
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_backup_passes_and_a_flipped_byte_fails_the_checksum() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "backup: {}", out.stderr);
    let (data_key, _) = split_keys(&fx.keys().await);

    let verify = || policy_run(&fx.s3, "verify", "webshop", &[]);
    let out = verify().run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.clone().unwrap();
    assert_eq!(report["command"], "verify");
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["verify"]["key"], data_key.as_str());
    let reported = checks(&out);
    let names: Vec<&str> = reported.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, NAMES);
    assert!(reported.iter().all(|c| c.1), "{reported:?}");
    let size = fx.download(&data_key).await.len();
    assert!(
        reported[2].2.contains(&format!("{size} bytes")),
        "{reported:?}"
    );
    assert!(
        reported[4].2.contains(&format!("{size} downloaded bytes")),
        "{reported:?}"
    );
    assert!(out.termination_log.len() < 4096);

    // Flip one byte in the middle of the stored object (same size, other content).
    let mut stored = fx.download(&data_key).await;
    let middle = stored.len() / 2;
    stored[middle] ^= 0x01;
    put_object(&fx.s3, &data_key, stored).await;
    let out = verify().run().unwrap();
    assert_check_failure(&out, &["ChecksumMatches"]);
    let message = &checks(&out)[4].2;
    let manifest = fx.manifest(&manifest_key(&data_key)).await;
    assert!(message.contains(&manifest.sha256), "{message}");

    // The object gone: ObjectPresent fails and the later checks cannot run.
    fx.s3
        .client()
        .delete_object()
        .bucket(BUCKET)
        .key(&data_key)
        .send()
        .await
        .unwrap();
    let out = verify().run().unwrap();
    assert_check_failure(&out, &["ObjectPresent"]);
    assert_eq!(checks(&out).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_property_fails_its_own_check() {
    let s3 = seaweed_bucket().await;
    let now = Utc::now();

    // No backup at all: ManifestPresent fails.
    let out = policy_run(&s3, "verify", "small", &[]).run().unwrap();
    assert_check_failure(&out, &["ManifestPresent"]);
    assert!(checks(&out)[0].2.contains("tidemark/shop/small/"));

    // Too small: 100 bytes against the default minimum of 1Ki, and against 10Mi.
    put_backup(&s3, "small", now, vec![7u8; 100]).await;
    let out = policy_run(&s3, "verify", "small", &[]).run().unwrap();
    assert_check_failure(&out, &["MinimumSize"]);
    assert!(
        checks(&out)[3].2.contains("100 bytes < minimum 1024"),
        "{:?}",
        checks(&out)
    );
    let out = policy_run(
        &s3,
        "verify",
        "small",
        &[("TIDEMARK_VERIFY_MIN_SIZE", "64")],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // Too old: completed 30 hours ago against 26h (the default), fine against 2d.
    let old = put_backup(&s3, "old", now - TimeDelta::hours(30), vec![1u8; 4096]).await;
    let out = policy_run(&s3, "verify", "old", &[]).run().unwrap();
    assert_check_failure(&out, &["Fresh"]);
    assert!(
        checks(&out)[5].2.contains("maximum age 1d2h"),
        "{:?}",
        checks(&out)
    );
    let out = policy_run(&s3, "verify", "old", &[("TIDEMARK_VERIFY_MAX_AGE", "2d")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // A newer backup whose object is shorter than its manifest says: SizeMatches and
    // (as the bytes differ) ChecksumMatches fail; an older key can still be verified.
    let newer = put_backup(&s3, "old", now - TimeDelta::hours(1), vec![2u8; 4096]).await;
    put_object(&s3, &newer, vec![2u8; 4000]).await;
    let out = policy_run(&s3, "verify", "old", &[]).run().unwrap();
    assert_check_failure(&out, &["SizeMatches", "ChecksumMatches"]);
    assert_eq!(
        out.report.as_ref().unwrap()["verify"]["key"],
        newer.as_str()
    );
    let out = policy_run(
        &s3,
        "verify",
        "old",
        &[
            ("TIDEMARK_BACKUP_KEY", &old),
            ("TIDEMARK_VERIFY_MAX_AGE", "2d"),
        ],
    )
    .run()
    .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.report.as_ref().unwrap()["verify"]["key"], old.as_str());

    // A data object without manifest does not exist for verify.
    let lonely = synthetic_key("old", now - TimeDelta::minutes(5));
    put_object(&s3, &lonely, vec![3u8; 4096]).await;
    let out = policy_run(&s3, "verify", "old", &[("TIDEMARK_BACKUP_KEY", &lonely)])
        .run()
        .unwrap();
    assert_check_failure(&out, &["ManifestPresent"]);
    assert_eq!(checks(&out).len(), 1);
    assert_eq!(
        out.report.as_ref().unwrap()["verify"]["key"],
        lonely.as_str()
    );
    assert!(
        checks(&out)[0].2.contains("not found"),
        "{:?}",
        checks(&out)
    );

    // A manifest that is not one: reported as such.
    let garbled = synthetic_key("old", now - TimeDelta::minutes(4));
    put_object(&s3, &garbled, vec![4u8; 4096]).await;
    put_object(&s3, &manifest_key(&garbled), b"{not json".to_vec()).await;
    let out = policy_run(&s3, "verify", "old", &[("TIDEMARK_BACKUP_KEY", &garbled)])
        .run()
        .unwrap();
    assert_check_failure(&out, &["ManifestPresent"]);
    assert!(
        checks(&out)[0].2.contains("cannot be read as a manifest"),
        "{:?}",
        checks(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_configuration_errors() {
    let s3 = seaweed_bucket().await;
    for (name, value) in [
        ("TIDEMARK_VERIFY_MAX_AGE", "tomorrow"),
        ("TIDEMARK_VERIFY_MIN_SIZE", "lots"),
        ("TIDEMARK_BACKUP_BEFORE", "last tuesday"),
    ] {
        let out = policy_run(&s3, "verify", "web", &[(name, value)])
            .run()
            .unwrap();
        assert_eq!(out.code, Some(2), "{name}: {}", out.stderr);
        let report = out.report.unwrap();
        assert_eq!(report["command"], "verify");
        assert_eq!(report["error"]["kind"], "config");
    }
}
