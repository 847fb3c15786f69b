//! The minimal controller-shaped flow through the local cluster: a BackupPolicy with
//! `runNow` → the operator binary creates a backup Job → the executor runs the real
//! `tidemark-runner` → the Pod's termination message carries the runner's report → the
//! policy's status records the backup that the manifest in S3 describes.
//!
//! Plus the harness on its own (no operator involved): a hand-written Job with the
//! runner image and Secret-mapped credentials runs `tidemark-runner backup`.
//!
//! Needs the binaries built (`cargo build -p tidemark-operator -p tidemark-runner`;
//! `cargo test --workspace` does it) and `scripts/setup.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tidemark_crd::contract::result::{Outcome, RunnerCommand, RunnerReport};
use tidemark_testkit::cluster::{
    Cluster, ClusterOptions, DATABASE, DB_SECRET, RUNNER_IMAGE, S3_SECRET,
};
use tidemark_testkit::webshop;

fn termination_report(pod: &k8s_openapi::api::core::v1::Pod) -> Option<RunnerReport> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let terminated = statuses.first()?.state.as_ref()?.terminated.as_ref()?;
    serde_json::from_str(terminated.message.as_deref()?).ok()
}

#[tokio::test]
async fn a_run_now_backup_goes_from_policy_to_job_to_runner_to_status() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_minimal-run-now"))
        .await
        .unwrap();
    cluster
        .apply_json(&cluster.policy("webshop"))
        .await
        .unwrap();
    cluster.run_now("webshop", "first").await.unwrap();

    // The operator creates one backup Job for the request.
    let jobs = cluster
        .wait_until("a backup Job", Duration::from_secs(30), || async {
            let names = cluster.job_names("backup").await?;
            Ok((!names.is_empty()).then_some(names))
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");

    // The runner's report reaches the policy's status.
    let policy = cluster
        .wait_for_policy("webshop", Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_backup.is_some() && s.last_run_now.as_deref() == Some("first")
            })
        })
        .await
        .unwrap();
    let status = policy.status.unwrap();
    let last = status.last_backup.unwrap();
    assert_eq!(last.job_name.as_deref(), Some(jobs[0].as_str()));

    // ... and it is exactly what the manifest in S3 says.
    let manifest = cluster.manifest(&last.key).await.unwrap();
    assert_eq!(manifest.key, last.key);
    assert_eq!(manifest.sha256, last.sha256);
    assert_eq!(manifest.stored_size as i64, last.stored_bytes);
    assert_eq!(manifest.total_rows(), last.total_rows);
    assert_eq!(manifest.database, DATABASE);
    let expected: Vec<(String, i64)> = webshop::expected_rows(2_000)
        .into_iter()
        .map(|(t, n)| (t.to_string(), n))
        .collect();
    let recorded: Vec<(String, i64)> = manifest.tables.clone().into_iter().collect();
    assert_eq!(recorded, expected);
    assert_eq!(
        cluster.committed_backups("webshop").await.unwrap(),
        vec![last.key.clone()]
    );

    // The finished Pod's termination message is the runner's report.
    let pods = cluster.pods().await.unwrap();
    let report = pods
        .iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("job-name"))
                .is_some_and(|j| *j == jobs[0])
        })
        .find_map(termination_report)
        .expect("a pod of the backup Job with the runner's report");
    assert_eq!(report.command, RunnerCommand::Backup);
    assert_eq!(report.outcome, Outcome::Succeeded);
    assert_eq!(report.backup.unwrap().sha256, last.sha256);

    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn the_executor_runs_the_runner_image_with_secret_mapped_credentials() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_minimal-harness").operators(0))
        .await
        .unwrap();
    let secret = |name: &str, secret: &str, key: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}});
    let value = |name: &str, value: String| json!({"name": name, "value": value});
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "manual-backup", "namespace": cluster.namespace()},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "runner", "image": RUNNER_IMAGE, "args": ["backup"],
                "env": [
                    value("TIDEMARK_POLICY_NAMESPACE", cluster.namespace().to_string()),
                    value("TIDEMARK_POLICY_NAME", "manual".into()),
                    value("PGHOST", "127.0.0.1".into()),
                    value("PGPORT", cluster.pg().port().to_string()),
                    value("PGDATABASE", DATABASE.into()),
                    value("PGSSLMODE", "disable".into()),
                    secret("PGUSER", DB_SECRET, "username"),
                    secret("PGPASSWORD", DB_SECRET, "password"),
                    value("TIDEMARK_S3_BUCKET", tidemark_testkit::cluster::BUCKET.into()),
                    value("TIDEMARK_S3_PREFIX", tidemark_testkit::cluster::PREFIX.into()),
                    value("TIDEMARK_S3_ENDPOINT", cluster.s3().endpoint.clone()),
                    value("TIDEMARK_S3_FORCE_PATH_STYLE", "true".into()),
                    value("AWS_REGION", "us-east-1".into()),
                    secret("AWS_ACCESS_KEY_ID", S3_SECRET, "access-key-id"),
                    secret("AWS_SECRET_ACCESS_KEY", S3_SECRET, "secret-access-key"),
                ],
            }],
        }}},
    });
    cluster.apply_json(&job).await.unwrap();
    let report = cluster
        .wait_until(
            "the manual Job's report",
            Duration::from_secs(60),
            || async { Ok(cluster.pods().await?.iter().find_map(termination_report)) },
        )
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Succeeded, "{report:?}");
    let backup = report.backup.unwrap();
    assert_eq!(
        cluster.committed_backups("manual").await.unwrap(),
        vec![backup.key.clone()]
    );
    assert_eq!(
        cluster.manifest(&backup.key).await.unwrap().sha256,
        backup.sha256
    );
    cluster.assert_no_secret_leaks().await.unwrap();

    // The leak check finds a credential where it must not be (here: an Event).
    let leaked = format!("connecting with {}", cluster.s3().secret_key);
    cluster
        .apply_json(&json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "leak", "namespace": cluster.namespace()},
            "involvedObject": {"kind": "Job", "name": "manual-backup", "namespace": cluster.namespace()},
            "reason": "Test", "message": leaked, "type": "Normal",
        }))
        .await
        .unwrap();
    let err = cluster
        .assert_no_secret_leaks()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("S3 secret access key in Events"), "{err}");
    assert!(
        !err.contains(&cluster.s3().secret_key),
        "the report names, never shows: {err}"
    );
}
