//! The fault suite: the real runner against real PostgreSQL and a real S3 server, with
//! the project's own fault-injecting proxy (`common::proxy`) in between. For each
//! subcommand and each relevant fault: the exit code and reason `docs/failures.md`
//! promises, no listed half-backup, no deleted good backup, a target database unchanged
//! by every failed restore (compared by a normalised dump), no secret in any output.
//! Short S3 timeouts keep it fast; it prints its wall time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::proxy::{Fault, FaultProxy, Rule};
use common::*;
use serde_json::Value;
use tidemark_crd::contract::keys::manifest_key;
use tidemark_testkit::postgres::PASSWORD;
use tidemark_testkit::runner::RunnerOutput;

/// Short timeouts and few attempts: every fault resolves within seconds.
const FAST: [(&str, &str); 3] = [
    ("TIDEMARK_S3_CONNECT_TIMEOUT", "2s"),
    ("TIDEMARK_S3_READ_TIMEOUT", "2s"),
    ("TIDEMARK_S3_MAX_ATTEMPTS", "2"),
];

fn with_proxy<'a>(proxy: &'a FaultProxy, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = FAST.to_vec();
    env.push(("TIDEMARK_S3_ENDPOINT", proxy.endpoint.as_str()));
    env.extend_from_slice(extra);
    env
}

fn check(out: &RunnerOutput, code: i32, reason: &str, secrets: &[&str]) -> Value {
    assert_eq!(
        out.code,
        Some(code),
        "expected exit {code} ({reason}); stderr: {}",
        out.stderr
    );
    let report = out.report.clone().expect("a report line");
    if code != 0 {
        assert_eq!(report["error"]["reason"], reason, "{report}");
        assert!(
            !report["error"]["message"].as_str().unwrap().contains('\n'),
            "the message is one line: {report}"
        );
    }
    for s in secrets {
        assert!(!out.stdout.contains(s), "secret in stdout");
        assert!(!out.stderr.contains(s), "secret in stderr");
        assert!(!out.termination_log.contains(s), "secret in the report");
    }
    report
}

/// The backups `list` shows (through the real server, no proxy).
fn listed(fx: &Fixture) -> Vec<String> {
    let out = fx
        .restore_run("list", SOURCE_DB, &[("TIDEMARK_LIST_OUTPUT", "json")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let rows: Vec<Value> = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    rows.iter()
        .map(|r| {
            assert!(r.get("broken").is_none(), "a broken backup is listed: {r}");
            r["key"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A normalised plain dump of `db`: what must not change on a failed restore.
fn normalised_dump(fx: &Fixture, db: &str) -> String {
    fx.pg
        .normalised_dump_at(fx.pg.port(), db, &["--no-owner", "--no-privileges"])
        .unwrap()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let v = f();
    let took = start.elapsed();
    eprintln!("fault case {what}: {took:?}");
    (v, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_faults() {
    let suite = Instant::now();
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 500);
    let proxy = FaultProxy::start(&fx.s3.plain_endpoint).await;
    let secret = fx.s3.secret_key.clone();
    let secrets = [secret.as_str(), PASSWORD];

    // The manifest is stored but every reply to its PUT is lost: the runner finds it
    // with HeadObject and the backup counts (before: data deleted, manifest left).
    proxy.set(vec![Rule::new(
        Some("PUT"),
        ".manifest.json",
        Fault::DropReply,
    )]);
    let (out, _) = timed("backup: manifest reply lost", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    let report = check(&out, 0, "", &secrets);
    let good = report["backup"]["key"].as_str().unwrap().to_string();
    assert_eq!(listed(&fx), vec![good.clone()]);
    let data = fx.download(&good).await;
    assert_eq!(
        data.len() as u64,
        report["backup"]["storedSize"].as_u64().unwrap()
    );

    // The manifest PUT fails for good (500): no manifest, the data object removed,
    // nothing listed; the good backup untouched.
    proxy.set(vec![Rule::new(
        Some("PUT"),
        ".manifest.json",
        Fault::Status(500, "InternalError"),
    )]);
    let (out, _) = timed("backup: manifest PUT 500", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    check(&out, 1, "S3Failed", &secrets);
    assert_eq!(listed(&fx), vec![good.clone()]);
    assert_eq!(fx.keys().await.len(), 3, "{:?}", fx.keys().await);

    // The globals object's PUT fails for good: no manifest, the data object removed;
    // only the good backup's three objects remain.
    proxy.set(vec![Rule::new(
        Some("PUT"),
        ".globals.sql",
        Fault::Status(500, "InternalError"),
    )]);
    let (out, _) = timed("backup: globals PUT 500", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    check(&out, 1, "S3Failed", &secrets);
    assert_eq!(listed(&fx), vec![good.clone()]);
    assert_eq!(fx.keys().await.len(), 3, "{:?}", fx.keys().await);
    assert!(fx.pending_uploads().await.is_empty());

    // Every part upload is throttled: aborted, nothing half-written listed.
    proxy.set(vec![Rule::new(
        Some("PUT"),
        "partNumber=",
        Fault::Status(503, "SlowDown"),
    )]);
    let (out, _) = timed("backup: UploadPart SlowDown", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    check(&out, 1, "S3Failed", &secrets);
    assert_eq!(listed(&fx), vec![good.clone()]);
    assert!(fx.pending_uploads().await.is_empty());

    // A reply lost once on a part: the SDK's retry stores it again; success.
    proxy.set(vec![
        Rule::new(Some("PUT"), "partNumber=", Fault::DropReply).times(1),
    ]);
    let (out, _) = timed("backup: part reply lost once", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    let report = check(&out, 0, "", &secrets);
    let second = report["backup"]["key"].as_str().unwrap().to_string();
    assert_eq!(listed(&fx), vec![good.clone(), second.clone()]);

    // Every reply to the completion is lost (the object exists): HeadObject with the
    // exact size accepts it.
    proxy.set(vec![Rule::new(Some("POST"), "uploadId=", Fault::DropReply)]);
    let (out, _) = timed("backup: completion reply lost", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    let report = check(&out, 0, "", &secrets);
    let third = report["backup"]["key"].as_str().unwrap().to_string();
    assert_eq!(
        listed(&fx),
        vec![good.clone(), second.clone(), third.clone()]
    );

    // A stalled endpoint (accepts, never answers): reported within bounded time.
    proxy.set(vec![Rule::new(None, "", Fault::Stall)]);
    let (out, took) = timed("backup: stalled endpoint", || {
        fx.backup(&with_proxy(&proxy, &[])).run().unwrap()
    });
    check(&out, 1, "S3Failed", &secrets);
    assert!(took < Duration::from_secs(40), "{took:?}");
    proxy.set(vec![]);
    assert_eq!(listed(&fx), vec![good.clone(), second, third]);
    eprintln!("fault suite (backup): {:?}", suite.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_under_faults_leaves_the_target_unchanged() {
    let suite = Instant::now();
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let key = out.report.unwrap()["backup"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    // The target: a first, clean restore plus a row of its own.
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_CREATE_DATABASE", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    fx.pg
        .psql(
            "target",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel')",
        )
        .unwrap();
    let before = normalised_dump(&fx, "target");
    let proxy = FaultProxy::start(&fx.s3.plain_endpoint).await;
    let secret = fx.s3.secret_key.clone();
    let secrets = [secret.as_str(), PASSWORD];
    let name = key.rsplit('/').next().unwrap().to_string();

    let cases: Vec<(&str, Vec<Rule>, i32, &str)> = vec![
        (
            "GET body cut off every time",
            vec![Rule::new(Some("GET"), &name, Fault::TruncateBody).except(".manifest.json")],
            1,
            "S3Failed",
        ),
        (
            "GET body reset every time",
            vec![Rule::new(Some("GET"), &name, Fault::ResetBody).except(".manifest.json")],
            1,
            "S3Failed",
        ),
        (
            "GET body stalls every time",
            vec![Rule::new(Some("GET"), &name, Fault::StallBody).except(".manifest.json")],
            1,
            "S3Failed",
        ),
        (
            "GET answers 500",
            vec![
                Rule::new(Some("GET"), &name, Fault::Status(500, "InternalError"))
                    .except(".manifest.json"),
            ],
            1,
            "S3Failed",
        ),
        (
            "listing throttled",
            vec![Rule::new(
                Some("GET"),
                "list-type=2",
                Fault::Status(503, "SlowDown"),
            )],
            1,
            "S3Failed",
        ),
    ];
    for (what, rules, code, reason) in cases {
        proxy.set(rules);
        let (out, took) = timed(&format!("restore: {what}"), || {
            fx.restore_run("restore", "target", &with_proxy(&proxy, &[]))
                .run()
                .unwrap()
        });
        check(&out, code, reason, &secrets);
        assert!(took < Duration::from_secs(60), "{what}: {took:?}");
        let message = out.report.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            !message.contains("rolled back") || !message.contains("committed"),
            "{message}"
        );
        assert_eq!(
            normalised_dump(&fx, "target"),
            before,
            "{what} changed the target"
        );
    }

    // A body cut off once is resumed: the restore succeeds.
    proxy.set(vec![
        Rule::new(Some("GET"), &name, Fault::TruncateBody)
            .except(".manifest.json")
            .times(1),
    ]);
    // The manifest's body cut off once is read again.
    proxy.set(vec![
        Rule::new(Some("GET"), &name, Fault::TruncateBody)
            .except(".manifest.json")
            .times(1),
        Rule::new(Some("GET"), ".manifest.json", Fault::TruncateBody).times(1),
    ]);
    let (out, _) = timed("restore: GET body cut off once", || {
        fx.restore_run("restore", "target", &with_proxy(&proxy, &[]))
            .run()
            .unwrap()
    });
    check(&out, 0, "", &secrets);

    // The data object is gone: BackupIncomplete (a check failure), not a runtime error.
    fx.s3
        .client()
        .delete_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap();
    let before = normalised_dump(&fx, "target");
    let out = fx
        .restore_run("restore", "target", &[("TIDEMARK_BACKUP_KEY", &key)])
        .run()
        .unwrap();
    check(&out, 3, "BackupIncomplete", &secrets);
    assert_eq!(normalised_dump(&fx, "target"), before);
    assert!(
        fx.keys().await.contains(&manifest_key(&key)),
        "never deleted"
    );
    eprintln!("fault suite (restore): {:?}", suite.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_prune_list_and_restore_test_under_faults() {
    let suite = Instant::now();
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 300);
    let mut keys = Vec::new();
    for _ in 0..2 {
        let out = fx.backup(&[]).run().unwrap();
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        keys.push(
            out.report.unwrap()["backup"]["key"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let proxy = FaultProxy::start(&fx.s3.plain_endpoint).await;
    let secret = fx.s3.secret_key.clone();
    let secrets = [secret.as_str(), PASSWORD];
    let newest = keys[1].rsplit('/').next().unwrap().to_string();

    // verify: a throttled or cut-off download is a runtime failure, not a failed check.
    for fault in [Fault::Status(503, "SlowDown"), Fault::TruncateBody] {
        proxy.set(vec![
            Rule::new(Some("GET"), &newest, fault.clone()).except(".manifest.json"),
        ]);
        let (out, _) = timed(&format!("verify: {fault:?}"), || {
            fx.restore_run("verify", SOURCE_DB, &with_proxy(&proxy, &[]))
                .run()
                .unwrap()
        });
        check(&out, 1, "S3Failed", &secrets);
    }

    // list: a throttled or stalled listing.
    proxy.set(vec![Rule::new(
        Some("GET"),
        "list-type=2",
        Fault::Status(503, "SlowDown"),
    )]);
    let out = fx
        .restore_run("list", SOURCE_DB, &with_proxy(&proxy, &[]))
        .run()
        .unwrap();
    check(&out, 1, "S3Failed", &secrets);
    proxy.set(vec![Rule::new(Some("GET"), "list-type=2", Fault::Stall)]);
    let (out, took) = timed("list: stalled listing", || {
        fx.restore_run("list", SOURCE_DB, &with_proxy(&proxy, &[]))
            .run()
            .unwrap()
    });
    check(&out, 1, "S3Failed", &secrets);
    assert!(took < Duration::from_secs(30), "{took:?}");

    // prune: deletes fail; nothing good is lost, the newest always stays.
    proxy.set(vec![Rule::new(
        Some("DELETE"),
        "",
        Fault::Status(500, "InternalError"),
    )]);
    let out = fx
        .restore_run(
            "prune",
            SOURCE_DB,
            &with_proxy(&proxy, &[("TIDEMARK_KEEP_HOURLY", "1")]),
        )
        .run()
        .unwrap();
    check(&out, 1, "S3Failed", &secrets);
    proxy.set(vec![]);
    assert_eq!(listed(&fx), keys);
    // The delete of the older backup's manifest is stored but its reply lost: the
    // retry finds it gone; the data object follows; the newest is untouched.
    proxy.set(vec![
        Rule::new(Some("DELETE"), ".manifest.json", Fault::DropReply).times(1),
    ]);
    let out = fx
        .restore_run(
            "prune",
            SOURCE_DB,
            &with_proxy(&proxy, &[("TIDEMARK_KEEP_HOURLY", "1")]),
        )
        .run()
        .unwrap();
    check(&out, 0, "", &secrets);
    proxy.set(vec![]);
    assert_eq!(listed(&fx), vec![keys[1].clone()]);

    // restore-test: the download is cut off every time; the scratch database is gone.
    proxy.set(vec![
        Rule::new(Some("GET"), &newest, Fault::ResetBody).except(".manifest.json"),
    ]);
    let (out, _) = timed("restore-test: GET reset", || {
        fx.restore_run("restore-test", SOURCE_DB, &with_proxy(&proxy, &[]))
            .run()
            .unwrap()
    });
    check(&out, 1, "S3Failed", &secrets);
    let scratch = fx
        .pg
        .psql(
            SOURCE_DB,
            "SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', 'shop')",
        )
        .unwrap();
    assert_eq!(scratch, "0", "a scratch database was left");
    eprintln!(
        "fault suite (verify/prune/list/restore-test): {:?}",
        suite.elapsed()
    );
}
