//! A full restore without `mode.clean` into a database that holds tables: the preflight
//! Job finds them and the request fails with `TargetNotEmpty` before any writer is
//! stopped and before the database is touched. The operator binary against the API
//! stand-in, the real runner, real PostgreSQL and SeaweedFS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;
use tidemark_crd::restore_request::status::RestorePhase;
use tidemark_testkit::cluster::{Cluster, ClusterOptions, DATABASE};

const POLICY: &str = "webshop";

#[tokio::test]
async fn a_full_restore_without_clean_into_a_non_empty_database_fails_before_anything_is_touched() {
    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions::new("e2e_restore-preflight"))
        .await
        .unwrap();
    cluster.create_writer("webshop-backend", 2).await.unwrap();
    cluster.apply_json(&cluster.policy(POLICY)).await.unwrap();
    cluster.run_now(POLICY, "first").await.unwrap();
    cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_run_now.as_deref() == Some("first")
                    && s.active.is_empty()
                    && s.last_backup.is_some()
            })
        })
        .await
        .unwrap();
    let current = cluster.fingerprints(DATABASE).unwrap();

    let mut request = cluster.restore_request("restore-unclean", POLICY, DATABASE);
    request["spec"]["mode"] = json!({"content": "Full"});
    request["spec"]["stopWriters"] = json!([{"kind": "Deployment", "name": "webshop-backend"}]);
    cluster.apply_json(&request).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), cluster.namespace());
    let mut lowest = i32::MAX;
    let deadline = Instant::now() + Duration::from_secs(90);
    let r = loop {
        let d = deployments.get("webshop-backend").await.unwrap();
        lowest = lowest.min(d.spec.and_then(|s| s.replicas).unwrap_or(1));
        let r = cluster.restores().get("restore-unclean").await.unwrap();
        if r.status.as_ref().is_some_and(|s| s.phase.is_terminal()) {
            break r;
        }
        assert!(Instant::now() < deadline, "never finished: {:?}", r.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Failed, "{s:?}");
    assert_eq!(s.reason.as_deref(), Some("TargetNotEmpty"), "{s:?}");
    let message = s.message.clone().unwrap();
    assert!(message.starts_with("mode.clean:"), "{message}");
    assert!(message.contains("set mode.clean: true"), "{message}");
    let succeeded = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Succeeded")
        .unwrap();
    assert_eq!(
        (succeeded.status.as_str(), succeeded.reason.as_str()),
        ("False", "TargetNotEmpty")
    );
    let found = s.target_check.clone().unwrap();
    assert!(found.exists && found.user_tables >= 5, "{found:?}");
    assert_eq!(
        s.jobs.as_ref().and_then(|j| j.preflight.as_deref()),
        Some("restore-unclean-pre")
    );
    // Nothing touched: no writer saved or scaled, no restore Job, same data.
    assert!(s.writers.is_empty(), "{:?}", s.writers);
    assert_eq!(lowest, 2, "the writer was never scaled down");
    assert_eq!(
        cluster
            .deployment_replicas("webshop-backend")
            .await
            .unwrap(),
        2
    );
    assert!(cluster.job_names("restore").await.unwrap().is_empty());
    assert_eq!(
        cluster.job_names("restore-preflight").await.unwrap(),
        vec!["restore-unclean-pre".to_string()]
    );
    assert_eq!(cluster.fingerprints(DATABASE).unwrap(), current);
    cluster.assert_no_secret_leaks().await.unwrap();
    println!("e2e_restore_preflight wall time: {:?}", started.elapsed());
}
