//! End to end, several databases in one policy: the operator binary against the API
//! stand-in, the real runner, real PostgreSQL and SeaweedFS. A policy with
//! `spec.databases` backs up three databases in one run; the status shows the run per
//! database; a RestoreRequest with `backup.database` restores one of them into a new
//! database with that database's rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tidemark_crd::restore_request::status::RestorePhase;
use tidemark_testkit::cluster::{Cluster, ClusterOptions};

const POLICY: &str = "server";

#[tokio::test]
async fn a_three_database_policy_backs_up_one_run_and_restores_one_database() {
    let started = std::time::Instant::now();
    let cluster = Cluster::start(ClusterOptions::new("e2e_multi-database"))
        .await
        .unwrap();
    let dbs = [("alpha", 3), ("beta", 4), ("gamma", 5)];
    for (db, rows) in dbs {
        cluster.pg().create_database(db).unwrap();
        cluster
            .pg()
            .psql(
                db,
                &format!(
                    "CREATE TABLE t (id int PRIMARY KEY); \
                     INSERT INTO t SELECT generate_series(1, {rows});"
                ),
            )
            .unwrap();
    }
    let mut policy = cluster.policy(POLICY);
    let connection = policy["spec"]["database"].as_object_mut().unwrap();
    connection.remove("database");
    policy["spec"]["databases"] = json!({"names": ["alpha", "beta", "gamma"]});
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "first").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(90), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_run_now.as_deref() == Some("first")
                    && s.active.is_empty()
                    && s.last_run.is_some()
            })
        })
        .await
        .unwrap();
    let status = p.status.unwrap();
    let run = status.last_run.clone().unwrap();
    assert_eq!((run.succeeded, run.failed), (3, 0), "{run:?}");
    let names: Vec<&str> = run.databases.iter().map(|d| d.database.as_str()).collect();
    assert_eq!(names, vec!["alpha", "beta", "gamma"]);
    assert!(run.databases.iter().all(|d| d.ok), "{run:?}");
    assert_eq!(status.backups[0].run.as_deref(), Some(run.id.as_str()));
    let committed = cluster.committed_backups(POLICY).await.unwrap();
    assert_eq!(committed.len(), 3, "{committed:?}");
    for (db, _) in dbs {
        let key = committed
            .iter()
            .find(|k| k.ends_with(&format!("{}.{db}.dump.zst", run.id)))
            .unwrap_or_else(|| panic!("no object of {db} in {committed:?}"));
        let manifest = cluster.manifest(key).await.unwrap();
        assert_eq!(manifest.database, db);
        assert_eq!(manifest.run.unwrap().id, run.id);
    }

    // Restore one database of the run into a new database.
    let mut request = cluster.restore_request("restore-beta", POLICY, "beta_restored");
    request["spec"]["backup"]["database"] = json!("beta");
    request["spec"]["target"]["createDatabase"] = json!(true);
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-beta", Duration::from_secs(120), |r| {
            r.status.as_ref().is_some_and(|s| s.phase.is_terminal())
        })
        .await
        .unwrap();
    let s = r.status.unwrap();
    assert_eq!(s.phase, RestorePhase::Succeeded, "{s:?}");
    assert!(
        s.resolved_backup
            .as_ref()
            .unwrap()
            .key
            .ends_with(&format!("{}.beta.dump.zst", run.id)),
        "{s:?}"
    );
    let count = cluster
        .pg()
        .psql("beta_restored", "SELECT count(*) FROM t")
        .unwrap();
    assert_eq!(count, "4");

    // Without backup.database the newest backup is ambiguous: refused, nothing touched.
    let request = cluster.restore_request("restore-which", POLICY, "never_made");
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-which", Duration::from_secs(60), |r| {
            r.status.as_ref().is_some_and(|s| s.phase.is_terminal())
        })
        .await
        .unwrap();
    let s = r.status.unwrap();
    assert_eq!(s.phase, RestorePhase::Failed, "{s:?}");
    assert_eq!(s.reason.as_deref(), Some("DatabaseRequired"), "{s:?}");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .starts_with("backup.database"),
        "{s:?}"
    );
    cluster.assert_no_secret_leaks().await.unwrap();
    eprintln!("e2e multi-database: {:?}", started.elapsed());
}
