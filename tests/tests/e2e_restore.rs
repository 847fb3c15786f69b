//! End-to-end tests of the RestoreRequest controller, one per runbook scenario plus the
//! failure cases: the operator binary against the API stand-in, the real runner, real
//! PostgreSQL and SeaweedFS. Writers are Deployments on the stand-in whose replica
//! counts are watched while the restore runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};
use tidemark_crd::RestoreRequest;
use tidemark_crd::contract::keys::{backup_key, manifest_key};
use tidemark_crd::restore_request::status::RestorePhase;
use tidemark_testkit::cluster::{BUCKET, Cluster, ClusterOptions, DATABASE, DB_SECRET, PREFIX};

const POLICY: &str = "webshop";

fn phase(r: &RestoreRequest) -> RestorePhase {
    r.status.as_ref().map(|s| s.phase).unwrap_or_default()
}

fn finished(r: &RestoreRequest) -> bool {
    phase(r).is_terminal()
}

fn condition(r: &RestoreRequest, kind: &str) -> Option<String> {
    r.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.clone())
}

/// Applies the policy and takes one backup with `runNow`; returns its key.
async fn backup(cluster: &Cluster, run_now: &str) -> String {
    if cluster.policies().get_opt(POLICY).await.unwrap().is_none() {
        cluster.apply_json(&cluster.policy(POLICY)).await.unwrap();
    }
    cluster.run_now(POLICY, run_now).await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(60), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_run_now.as_deref() == Some(run_now)
                    && s.active.is_empty()
                    && s.last_backup.is_some()
            })
        })
        .await
        .unwrap();
    p.status.unwrap().last_backup.unwrap().key
}

/// The lowest replica count each Deployment showed while the returned task ran.
struct ReplicaWatch {
    task: tokio::task::JoinHandle<()>,
    lowest: Arc<Mutex<BTreeMap<String, i32>>>,
}

impl ReplicaWatch {
    fn start(cluster: &Cluster, names: &[&str]) -> Self {
        let api: Api<Deployment> = Api::namespaced(cluster.client(), cluster.namespace());
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let lowest = Arc::new(Mutex::new(BTreeMap::new()));
        let seen = lowest.clone();
        let task = tokio::spawn(async move {
            loop {
                for name in &names {
                    if let Ok(d) = api.get(name).await {
                        let replicas = d.spec.and_then(|s| s.replicas).unwrap_or(1);
                        let mut seen = seen.lock().unwrap();
                        let entry = seen.entry(name.clone()).or_insert(replicas);
                        *entry = (*entry).min(replicas);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { task, lowest }
    }

    fn stop(self) -> BTreeMap<String, i32> {
        self.task.abort();
        self.lowest.lock().unwrap().clone()
    }
}

fn writers(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| json!({"kind": "Deployment", "name": n}))
            .collect(),
    )
}

#[tokio::test]
async fn scenarios_a_and_b_restore_latest_over_corruption_with_writers_stopped_and_into_a_new_database()
 {
    let cluster = Cluster::start(ClusterOptions::new("e2e_restore-latest").age())
        .await
        .unwrap();
    cluster.create_writer("webshop-backend", 2).await.unwrap();
    cluster.create_writer("webshop-worker", 1).await.unwrap();
    let key = backup(&cluster, "before-corruption").await;
    assert!(key.ends_with(".age"), "encrypted backup: {key}");
    let good = cluster.fingerprints(DATABASE).unwrap();

    // Scenario A: data corruption, restore the latest backup over the database.
    cluster
        .pg()
        .psql(
            DATABASE,
            "DELETE FROM orders WHERE id % 2 = 0; UPDATE users SET name = 'corrupted'",
        )
        .unwrap();
    assert_ne!(cluster.fingerprints(DATABASE).unwrap(), good);
    let watch = ReplicaWatch::start(&cluster, &["webshop-backend", "webshop-worker"]);
    let mut request = cluster.restore_request("restore-a", POLICY, DATABASE);
    request["spec"]["parallelism"] = json!(2);
    request["spec"]["stopWriters"] = writers(&["webshop-backend", "webshop-worker"]);
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-a", Duration::from_secs(120), finished)
        .await
        .unwrap();
    let lowest = watch.stop();
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Succeeded, "{s:?}");
    assert_eq!(cluster.fingerprints(DATABASE).unwrap(), good);
    let resolved = s.resolved_backup.as_ref().unwrap();
    assert_eq!(resolved.key, key);
    assert_eq!(
        resolved.sha256,
        cluster.manifest(&key).await.unwrap().sha256
    );
    assert!(s.duration_seconds.is_some_and(|d| d > 0.0), "{s:?}");
    assert!(s.duration.as_deref().is_some_and(|d| !d.is_empty()));
    assert!(s.started_at.is_some() && s.completed_at.is_some());
    assert_eq!(s.tables_compared, Some(5));
    assert!(s.mismatches.is_empty(), "{:?}", s.mismatches);
    assert_eq!(condition(&r, "Succeeded").as_deref(), Some("True"));
    assert_eq!(condition(&r, "Verified").as_deref(), Some("True"));
    assert!(
        s.phase_timings
            .iter()
            .any(|t| t.phase == RestorePhase::Restoring),
        "{:?}",
        s.phase_timings
    );
    // Writers: saved, scaled to zero during the restore, and back afterwards.
    let saved: BTreeMap<String, (i32, bool)> = s
        .writers
        .iter()
        .map(|w| (w.name.clone(), (w.previous_replicas, w.restarted)))
        .collect();
    assert_eq!(saved["webshop-backend"], (2, true));
    assert_eq!(saved["webshop-worker"], (1, true));
    assert_eq!(lowest.get("webshop-backend"), Some(&0), "{lowest:?}");
    assert_eq!(lowest.get("webshop-worker"), Some(&0), "{lowest:?}");
    assert_eq!(
        cluster
            .deployment_replicas("webshop-backend")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cluster.deployment_replicas("webshop-worker").await.unwrap(),
        1
    );
    assert_eq!(cluster.job_names("restore").await.unwrap().len(), 1);

    // Scenario B: the server is lost; restore into a database the restore creates.
    let mut request = cluster.restore_request("restore-b", POLICY, "webshop_rebuilt");
    request["spec"]["parallelism"] = json!(2);
    request["spec"]["target"]["createDatabase"] = json!(true);
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-b", Duration::from_secs(120), finished)
        .await
        .unwrap();
    assert_eq!(phase(&r), RestorePhase::Succeeded, "{:?}", r.status);
    assert_eq!(cluster.fingerprints("webshop_rebuilt").unwrap(), good);
    assert_eq!(condition(&r, "Verified").as_deref(), Some("True"));
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn an_unknown_key_and_a_corrupt_object_fail_without_touching_the_database() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_restore-failures"))
        .await
        .unwrap();
    cluster.create_writer("webshop-backend", 2).await.unwrap();
    let key = backup(&cluster, "one").await;
    // A change after the backup: a restore that touched the database would undo it.
    cluster
        .pg()
        .psql(
            DATABASE,
            "INSERT INTO colors (name, hex) VALUES ('teal', '#008080')",
        )
        .unwrap();
    let current = cluster.fingerprints(DATABASE).unwrap();

    // An unknown key: Failed while resolving; no Job, writers never stopped.
    let watch = ReplicaWatch::start(&cluster, &["webshop-backend"]);
    let unknown = backup_key(
        PREFIX,
        cluster.namespace(),
        POLICY,
        Utc::now() - ChronoDuration::days(400),
        "dump.zst",
    );
    let mut request = cluster.restore_request("restore-unknown", POLICY, DATABASE);
    request["spec"]["backup"] = json!({"key": unknown});
    request["spec"]["stopWriters"] = writers(&["webshop-backend"]);
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-unknown", Duration::from_secs(60), finished)
        .await
        .unwrap();
    let lowest = watch.stop();
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Failed, "{s:?}");
    assert!(s.resolved_backup.is_none(), "{s:?}");
    let said = format!(
        "{} {}",
        s.reason.clone().unwrap_or_default(),
        s.message.clone().unwrap_or_default()
    );
    assert!(
        said.contains(&unknown) || said.to_lowercase().contains("key"),
        "{said}"
    );
    assert!(cluster.job_names("restore").await.unwrap().is_empty());
    assert_eq!(lowest.get("webshop-backend"), Some(&2), "never scaled down");
    assert_eq!(cluster.fingerprints(DATABASE).unwrap(), current);
    assert_eq!(condition(&r, "Succeeded").as_deref(), Some("False"));

    // A corrupt object (same size class, wrong bytes): the checksum gate fails the
    // restore before it commits; the database is unchanged and the writers are back.
    let client = cluster.s3().client();
    let mut bytes = tidemark_testkit::s3::download(&client, BUCKET, &key)
        .await
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    client
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    let watch = ReplicaWatch::start(&cluster, &["webshop-backend"]);
    let mut request = cluster.restore_request("restore-corrupt", POLICY, DATABASE);
    request["spec"]["parallelism"] = json!(2);
    request["spec"]["stopWriters"] = writers(&["webshop-backend"]);
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-corrupt", Duration::from_secs(90), finished)
        .await
        .unwrap();
    let lowest = watch.stop();
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Failed, "{s:?}");
    assert_eq!(
        s.resolved_backup.as_ref().map(|b| b.key.as_str()),
        Some(key.as_str())
    );
    assert_eq!(cluster.fingerprints(DATABASE).unwrap(), current);
    assert_eq!(lowest.get("webshop-backend"), Some(&0), "{lowest:?}");
    assert_eq!(
        cluster
            .deployment_replicas("webshop-backend")
            .await
            .unwrap(),
        2
    );
    assert!(s.writers.iter().all(|w| w.restarted), "{:?}", s.writers);
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn scenario_c_restores_two_tables_data_only_from_the_newest_backup_before_the_deletion() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_restore-tables"))
        .await
        .unwrap();
    let first = backup(&cluster, "nightly").await;
    let good = cluster.fingerprints(DATABASE).unwrap();
    // The same backup, as if it had been taken an hour ago (it survives retention
    // beside the newer one; the explicit source lists it from S3).
    let earlier = Utc::now() - ChronoDuration::minutes(70);
    let planted = {
        let ext = first
            .rsplit('/')
            .next()
            .unwrap()
            .split_once('.')
            .unwrap()
            .1
            .to_string();
        let key = backup_key(PREFIX, cluster.namespace(), POLICY, earlier, &ext);
        let mut manifest = cluster.manifest(&first).await.unwrap();
        manifest.key = key.clone();
        manifest.started_at = earlier - ChronoDuration::seconds(1);
        manifest.completed_at = earlier;
        let client = cluster.s3().client();
        let data = tidemark_testkit::s3::download(&client, BUCKET, &first)
            .await
            .unwrap();
        let mut objects = vec![(key.clone(), data)];
        // The globals object (roles and settings) travels with the copy: a manifest
        // whose globals object is missing is a broken backup.
        if let Some(globals) = manifest.globals.as_mut() {
            let body = tidemark_testkit::s3::download(&client, BUCKET, &globals.key)
                .await
                .unwrap();
            globals.key = format!("{key}{}", &globals.key[first.len()..]);
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
    };
    let deletion = earlier + ChronoDuration::minutes(30);

    // The accident: orders and users emptied; a product renamed afterwards (legit).
    cluster
        .pg()
        .psql(
            DATABASE,
            "TRUNCATE orders, users; UPDATE products SET name = 'renamed' WHERE id = 1",
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = backup(&cluster, "after-accident").await;
    assert_ne!(after, planted);
    let changed = cluster.fingerprints(DATABASE).unwrap();

    let mut request = cluster.restore_request("restore-tables", POLICY, DATABASE);
    request["spec"]["source"] = json!({"explicit": {
        "s3": cluster.s3_destination(),
        "policyNamespace": cluster.namespace(),
        "policyName": POLICY,
    }});
    request["spec"]["backup"] = json!({"before": deletion.to_rfc3339()});
    request["spec"]["mode"] = json!({
        "content": "DataOnly", "tables": ["public.orders", "public.users"], "truncate": true, "clean": false
    });
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-tables", Duration::from_secs(120), finished)
        .await
        .unwrap();
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Succeeded, "{s:?}");
    assert_eq!(s.resolved_backup.as_ref().unwrap().key, planted);
    assert_eq!(s.tables_restored, Some(2));
    // The data-only restore was checked first: its target holds both tables.
    assert!(
        s.jobs.as_ref().is_some_and(|j| j.preflight.is_some()),
        "{s:?}"
    );
    let now = cluster.fingerprints(DATABASE).unwrap();
    for table in ["public.orders", "public.users"] {
        assert_eq!(now[table], good[table], "{table} restored");
    }
    for table in ["public.products", "public.colors", "public.sizes"] {
        assert_eq!(now[table], changed[table], "{table} untouched");
    }
    cluster.assert_no_secret_leaks().await.unwrap();
}

/// A data-only restore whose target lacks one of its tables fails in the preflight,
/// naming the table, before the writers are touched: they keep their replicas, no
/// restore Job runs, the database is unchanged.
#[tokio::test]
async fn a_data_only_restore_into_a_target_without_its_tables_fails_before_any_writer_stops() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_restore-tables-missing"))
        .await
        .unwrap();
    cluster.create_writer("webshop-backend", 2).await.unwrap();
    backup(&cluster, "nightly").await;
    cluster
        .pg()
        .psql(DATABASE, "DROP TABLE public.orders")
        .unwrap();
    let current = cluster.fingerprints(DATABASE).unwrap();

    let watch = ReplicaWatch::start(&cluster, &["webshop-backend"]);
    let mut request = cluster.restore_request("restore-missing", POLICY, DATABASE);
    request["spec"]["mode"] = json!({
        "content": "DataOnly", "tables": ["public.orders", "public.users"], "truncate": true
    });
    request["spec"]["stopWriters"] = writers(&["webshop-backend"]);
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-missing", Duration::from_secs(90), finished)
        .await
        .unwrap();
    let lowest = watch.stop();
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Failed, "{s:?}");
    assert_eq!(s.reason.as_deref(), Some("TargetTablesMissing"), "{s:?}");
    let message = s.message.clone().unwrap_or_default();
    assert!(message.contains("public.orders"), "{message}");
    assert!(!message.contains("public.users"), "{message}");
    assert_eq!(lowest.get("webshop-backend"), Some(&2), "never scaled down");
    assert_eq!(
        cluster
            .deployment_replicas("webshop-backend")
            .await
            .unwrap(),
        2
    );
    assert!(s.writers.is_empty(), "{:?}", s.writers);
    assert!(cluster.job_names("restore").await.unwrap().is_empty());
    assert_eq!(cluster.fingerprints(DATABASE).unwrap(), current);
    cluster.assert_no_secret_leaks().await.unwrap();
}

#[tokio::test]
async fn scenario_d_restores_before_a_failed_migration_runs_the_post_restore_step_once_across_an_operator_restart()
 {
    let mut cluster = Cluster::start(ClusterOptions::new("e2e_restore-migration"))
        .await
        .unwrap();
    cluster.create_writer("webshop-backend", 1).await.unwrap();
    backup(&cluster, "pre-migration").await;
    let good = cluster.fingerprints(DATABASE).unwrap();
    // The failed migration.
    cluster
        .pg()
        .psql(
            DATABASE,
            "ALTER TABLE products DROP COLUMN attributes; UPDATE sizes SET label = 'XXS' WHERE label = 'XS'",
        )
        .unwrap();

    // Keep the restore mid-run: its DROP/CREATE of `colors` waits for this lock.
    let lock = cluster.lock_table(DATABASE, "public.colors").unwrap();
    let mut request = cluster.restore_request("restore-migration", POLICY, DATABASE);
    // The single-transaction stream (its DROP waits for the lock in the target); a
    // parallel restore never writes the target before its swap.
    request["spec"]["parallelism"] = json!(1);
    request["spec"]["stopWriters"] = writers(&["webshop-backend"]);
    let pg_env = |name: &str, value: String| json!({"name": name, "value": value});
    request["spec"]["postRestore"] = json!({
        "image": "webshop/backend:1",
        "command": ["sh", "-c", "psql -X -v ON_ERROR_STOP=1 -c 'CREATE TABLE migrated_again (at timestamptz DEFAULT now()); INSERT INTO migrated_again DEFAULT VALUES'"],
        "env": [
            pg_env("PGHOST", "127.0.0.1".into()),
            pg_env("PGPORT", cluster.pg().port().to_string()),
            pg_env("PGDATABASE", DATABASE.into()),
            {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": "username"}}},
            {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": "password"}}},
        ],
    });
    cluster.apply_json(&request).await.unwrap();
    cluster
        .wait_for_restore("restore-migration", Duration::from_secs(60), |r| {
            phase(r) == RestorePhase::Restoring
        })
        .await
        .unwrap();
    lock.wait_for_waiter(Duration::from_secs(30)).unwrap();
    cluster.kill_operator(0).unwrap();
    cluster.restart_operator(0).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    lock.release().unwrap();

    let r = cluster
        .wait_for_restore("restore-migration", Duration::from_secs(120), finished)
        .await
        .unwrap();
    let s = r.status.clone().unwrap();
    assert_eq!(s.phase, RestorePhase::Succeeded, "{s:?}");
    // Exactly once: one restore Job, one post-restore Job, one row from the step.
    assert_eq!(cluster.job_names("restore").await.unwrap().len(), 1);
    assert_eq!(cluster.job_names("post-restore").await.unwrap().len(), 1);
    assert_eq!(
        cluster
            .pg()
            .psql(DATABASE, "SELECT count(*) FROM migrated_again")
            .unwrap(),
        "1"
    );
    let mut now = cluster.fingerprints(DATABASE).unwrap();
    now.remove("public.migrated_again");
    assert_eq!(now, good, "the pre-migration data and schema are back");
    assert!(
        s.phase_timings
            .iter()
            .any(|t| t.phase == RestorePhase::PostRestore),
        "{:?}",
        s.phase_timings
    );
    assert_eq!(
        cluster
            .deployment_replicas("webshop-backend")
            .await
            .unwrap(),
        1
    );
    cluster.assert_no_secret_leaks().await.unwrap();
}
