//! `kubectl get bp` and `kubectl get rr` on the API stand-in show the state at a glance:
//! Ready, Next and Failures for policies; Reason and the backup's time for restores
//! (the lesser columns only with `-o wide`). kubectl comes from the venv.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tidemark_testkit::cluster::{Cluster, ClusterOptions, DATABASE};

const POLICY: &str = "webshop";

fn kubectl(cluster: &Cluster, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(["-n", cluster.namespace()])
        .args(args)
        .output()
        .expect("kubectl on PATH (source scripts/setup.sh)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn header(table: &str) -> Vec<String> {
    let first = table.lines().next().unwrap_or_default();
    first
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn kubectl_get_shows_the_new_columns() {
    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions::new("e2e_kubectl-columns"))
        .await
        .unwrap();
    cluster.apply_json(&cluster.policy(POLICY)).await.unwrap();
    cluster.run_now(POLICY, "first").await.unwrap();
    let policy = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_backup.is_some() && s.active.is_empty() && s.next_schedule_time.is_some()
            })
        })
        .await
        .unwrap();
    // The next run is in the future: shown as its time (a `date` column would print
    // `<invalid>` on a real API server).
    let next = serde_json::to_value(policy.status.unwrap().next_schedule_time.unwrap()).unwrap();
    let next = next.as_str().unwrap().to_string();

    let bp = kubectl(&cluster, &["get", "bp"]);
    assert_eq!(
        header(&bp),
        [
            "NAME",
            "READY",
            "LAST SUCCESS",
            "NEXT",
            "FAILURES",
            "FRESH",
            "AGE"
        ],
        "{bp}"
    );
    let row = bp.lines().nth(1).unwrap();
    assert!(row.starts_with(POLICY), "{bp}");
    assert!(row.contains("True"), "{bp}");
    assert!(row.split_whitespace().any(|c| c == "0"), "failures: {bp}");
    assert!(
        row.split_whitespace().any(|c| c == next),
        "next {next}: {bp}"
    );
    assert!(!row.contains("<invalid>"), "{bp}");
    let wide = kubectl(&cluster, &["get", "bp", "-o", "wide"]);
    for column in ["SCHEDULE", "BACKUPS", "SIZE", "VERIFIED"] {
        assert!(header(&wide).iter().any(|h| h == column), "{wide}");
    }
    assert!(wide.contains("0 0 1 1 *"), "{wide}");

    // A restore that fails early (full, no clean, non-empty target): the Reason column.
    let mut request = cluster.restore_request("restore-unclean", POLICY, DATABASE);
    request["spec"]["mode"] = json!({"content": "Full"});
    cluster.apply_json(&request).await.unwrap();
    cluster
        .wait_for_restore("restore-unclean", Duration::from_secs(60), |r| {
            r.status.as_ref().is_some_and(|s| s.phase.is_terminal())
        })
        .await
        .unwrap();
    let rr = kubectl(&cluster, &["get", "rr"]);
    assert_eq!(
        header(&rr),
        [
            "NAME",
            "PHASE",
            "REASON",
            "BACKUP TIME",
            "TARGET",
            "VERIFIED",
            "DURATION",
            "AGE"
        ],
        "{rr}"
    );
    assert!(rr.contains("TargetNotEmpty"), "{rr}");
    assert!(!rr.contains(".dump."), "no key without -o wide: {rr}");
    let wide = kubectl(&cluster, &["get", "rr", "-o", "wide"]);
    assert!(header(&wide).iter().any(|h| h == "BACKUP"), "{wide}");
    assert!(wide.contains(".dump."), "{wide}");
    println!("e2e_kubectl_columns wall time: {:?}", started.elapsed());
}
