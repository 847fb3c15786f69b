//! End to end with the real images (`scripts/build-images`): every Job kind's pod runs as
//! real containers of the runner image under the Job's security context (UID 65532,
//! read-only root, all capabilities dropped, emptyDirs and Secrets mounted, env from
//! Secrets, the termination message read back from the mounted file), the restore test's
//! PostgreSQL as a native-sidecar container; and the operator image runs as a container
//! that delivers a webhook alert to a receiver known only by a name in its /etc/hosts.
//!
//! Both tests share this process (one test binary) and run side by side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use tidemark_crd::BackupPolicy;
use tidemark_crd::restore_request::status::RestorePhase;
use tidemark_testkit::cluster::{Cluster, ClusterOptions, DATABASE, DB_SECRET, IDENTITY_SECRET};
use tidemark_testkit::images::OPERATOR_IMAGE;

const POLICY: &str = "webshop";

/// The run kinds whose container pods succeeded, from the executor's log.
fn succeeded_container_kinds(cluster: &Cluster) -> BTreeSet<String> {
    let log =
        std::fs::read_to_string(cluster.standin().dir().join("executor.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("container pod ") && l.ends_with(": Succeeded exit=0"))
        .filter_map(|l| l.split("run-kind=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn handled(value: &str) -> impl Fn(&BackupPolicy) -> bool + '_ {
    move |p| {
        p.status.as_ref().is_some_and(|s| {
            s.last_run_now.as_deref() == Some(value)
                && s.last_backup.is_some()
                && s.active.is_empty()
        })
    }
}

#[tokio::test]
async fn every_job_kind_runs_as_containers_of_the_built_images() {
    let started = Instant::now();
    let cluster = Cluster::start(
        ClusterOptions::new("e2e_containers-jobs")
            .age()
            .containers(),
    )
    .await
    .unwrap();

    // Backup (then prune), encrypted: Secrets reach the container as env and files.
    let mut policy = cluster.policy(POLICY);
    policy["spec"]["deletionPolicy"] = json!("Delete");
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "first").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(120), handled("first"))
        .await
        .unwrap();
    let backup = p.status.as_ref().unwrap().last_backup.clone().unwrap();
    assert!(backup.key.ends_with(".age"), "{}", backup.key);
    assert_eq!(
        cluster.committed_backups(POLICY).await.unwrap(),
        vec![backup.key.clone()]
    );

    // Verification and the restore test (PostgreSQL as a native-sidecar container).
    policy["spec"]["runNow"] = json!("first");
    policy["spec"]["verification"] =
        json!({"enabled": true, "schedule": "* * * * *", "maxAge": "2h", "minSize": "1Ki"});
    policy["spec"]["restoreTest"] = json!({
        "enabled": true, "schedule": "* * * * *",
        "target": {"ephemeral": {"image": "postgres:15"}}, "deadlineSeconds": 300,
        "decryptionIdentitySecretRef": {"name": IDENTITY_SECRET, "key": "identity"},
    });
    cluster.apply_json(&policy).await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(150), |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.last_verification.is_some() && s.last_restore_test.is_some())
        })
        .await
        .unwrap();
    let s = p.status.as_ref().unwrap();
    let verification = s.last_verification.as_ref().unwrap();
    assert!(verification.passed, "{verification:?}");
    let test = s.last_restore_test.as_ref().unwrap();
    assert!(test.passed, "{test:?}");
    assert_eq!(test.key.as_deref(), Some(backup.key.as_str()));
    assert_eq!(test.tables_compared, 5);
    assert!(test.mismatches.is_empty(), "{:?}", test.mismatches);

    // Restore into a new database, then a post-restore step in its own image.
    let good = cluster.fingerprints(DATABASE).unwrap();
    let mut request = cluster.restore_request("restore-new", POLICY, "webshop_restored");
    request["spec"]["target"]["createDatabase"] = json!(true);
    let pg_env = |name: &str, value: String| json!({"name": name, "value": value});
    request["spec"]["postRestore"] = json!({
        "image": "webshop/backend:1",
        "command": ["sh", "-c", "psql -X -v ON_ERROR_STOP=1 -c 'CREATE TABLE post_restore_ran (at timestamptz DEFAULT now()); INSERT INTO post_restore_ran DEFAULT VALUES'"],
        "env": [
            pg_env("PGHOST", "127.0.0.1".into()),
            pg_env("PGPORT", cluster.pg().port().to_string()),
            pg_env("PGDATABASE", "webshop_restored".into()),
            {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": "username"}}},
            {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": "password"}}},
        ],
    });
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-new", Duration::from_secs(180), |r| {
            r.status
                .as_ref()
                .is_some_and(|s| matches!(s.phase, RestorePhase::Succeeded | RestorePhase::Failed))
        })
        .await
        .unwrap();
    let rs = r.status.clone().unwrap();
    assert_eq!(rs.phase, RestorePhase::Succeeded, "{rs:?}");
    assert_eq!(
        cluster
            .pg()
            .psql("webshop_restored", "SELECT count(*) FROM post_restore_ran")
            .unwrap(),
        "1"
    );
    let mut restored = cluster.fingerprints("webshop_restored").unwrap();
    restored.remove("public.post_restore_ran");
    assert_eq!(restored, good);

    // Purge: deleting the policy deletes its backups (deletionPolicy: Delete).
    let before_purge = cluster.policy_keys(POLICY).await.unwrap();
    assert!(!before_purge.is_empty());
    cluster
        .policies()
        .delete(POLICY, &Default::default())
        .await
        .unwrap();
    cluster
        .wait_until(
            "the purged policy to go",
            Duration::from_secs(120),
            || async {
                Ok(cluster
                    .policies()
                    .get_opt(POLICY)
                    .await?
                    .is_none()
                    .then_some(()))
            },
        )
        .await
        .unwrap();
    assert_eq!(
        cluster.policy_keys(POLICY).await.unwrap(),
        Vec::<String>::new()
    );

    let kinds = succeeded_container_kinds(&cluster);
    for kind in [
        "backup",
        "prune",
        "verify",
        "restore-test",
        "restore",
        "post-restore",
        "purge",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} pod succeeded as containers: {kinds:?}"
        );
    }
    cluster.assert_no_secret_leaks().await.unwrap();
    eprintln!("container Job kinds took {:?}", started.elapsed());
}

/// An HTTP receiver on 127.0.0.1 that answers 204 and hands each request's body over.
fn receiver() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            let _ = tx.send(format!(
                "{} {}",
                request_line.trim(),
                String::from_utf8_lossy(&body)
            ));
        }
    });
    (port, rx)
}

#[tokio::test]
async fn the_operator_image_runs_as_a_container_and_alerts_a_webhook_by_host_name() {
    let started = Instant::now();
    // A name no DNS server and not the host's /etc/hosts knows: only the container's.
    let host = "alerts.tidemark-e2e.invalid";
    let (port, bodies) = receiver();
    let cluster = Cluster::start(
        ClusterOptions::new("e2e_containers-operator")
            .containers()
            .operator_container(OPERATOR_IMAGE, &[(host, "127.0.0.1")]),
    )
    .await
    .unwrap();
    cluster
        .apply_json(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "alert-webhook", "namespace": cluster.namespace()},
            "stringData": {"url": format!("http://{host}:{port}/hooks/tidemark")},
        }))
        .await
        .unwrap();
    // A backup that fails (wrong password) alerts BackupFailed.
    cluster
        .apply_json(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "wrong-db", "namespace": cluster.namespace()},
            "stringData": {"username": "postgres", "password": "not-the-password"},
        }))
        .await
        .unwrap();
    let mut policy = cluster.policy(POLICY);
    policy["spec"]["database"]["passwordSecretRef"] =
        json!({"name": "wrong-db", "key": "password"});
    policy["spec"]["notifications"] = json!({
        "webhookUrlSecretRef": {"name": "alert-webhook", "key": "url"},
        "events": ["BackupFailed"],
    });
    cluster.apply_json(&policy).await.unwrap();
    cluster.run_now(POLICY, "doomed").await.unwrap();

    let body = tokio::task::spawn_blocking(move || bodies.recv_timeout(Duration::from_secs(120)))
        .await
        .unwrap()
        .unwrap_or_else(|_| {
            panic!(
                "no webhook within 120 s; operator log:\n{}",
                cluster_log_hint()
            )
        });
    assert!(body.starts_with("POST /hooks/tidemark "), "{body}");
    assert!(
        body.contains("BackupFailed") || body.contains("failed"),
        "{body}"
    );
    assert!(!body.contains("not-the-password"), "{body}");
    // The failed backup ran as a container too.
    let kinds = std::fs::read_to_string(cluster.standin().dir().join("executor.log")).unwrap();
    assert!(kinds.contains("run-kind=backup"), "{kinds}");
    cluster.assert_no_secret_leaks().await.unwrap();
    eprintln!("operator container test took {:?}", started.elapsed());
}

fn cluster_log_hint() -> String {
    "see target/tidemark-e2e/e2e_containers-operator/operator-0.log".to_string()
}
