//! The registry as Prometheus sees it.

use serde_json::json;

use super::*;
use crate::testing::minimal_policy;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn policy(name: &str, status: serde_json::Value) -> BackupPolicy {
    minimal_policy(|v| {
        v["metadata"]["name"] = json!(name);
        v["spec"]["rpo"] = json!("65m");
        v["status"] = status;
    })
}

fn record(m: &Metrics, p: &BackupPolicy) {
    m.record_policy(
        p,
        &p.status.clone().unwrap_or_default(),
        t("2026-11-23T10:30:00Z"),
    );
}

fn has(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

fn failed_backup_status() -> serde_json::Value {
    json!({
        "consecutiveFailures": 1,
        "lastFailure": {"time": "2026-11-23T10:00:00Z", "kind": "backup",
                        "reason": "PgDumpFailed", "message": "m"},
    })
}

#[test]
fn a_new_policy_starts_with_zero_failures_and_zero_counters() {
    let m = Metrics::new();
    record(&m, &policy("web", json!({})));
    let text = m.render().unwrap();
    for line in [
        r#"tidemark_backup_consecutive_failures{namespace="shop",policy="web"} 0.0"#,
        r#"tidemark_backup_rpo_seconds{namespace="shop",policy="web"} 3900.0"#,
        r#"tidemark_policy_suspended{namespace="shop",policy="web"} 0.0"#,
        r#"tidemark_runs_total{namespace="shop",policy="web",kind="backup",outcome="failed"} 0"#,
        r#"tidemark_runs_total{namespace="shop",policy="web",kind="prune",outcome="failed"} 0"#,
        r#"tidemark_runs_total{namespace="shop",policy="web",kind="verify",outcome="succeeded"} 0"#,
        r#"tidemark_runs_total{namespace="shop",policy="web",kind="restore-test",outcome="failed"} 0"#,
    ] {
        assert!(has(&text, line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("tidemark_backup_last_success_timestamp_seconds{"));
    assert!(!text.contains("tidemark_last_failure_timestamp_seconds{"));
}

#[test]
fn the_first_failure_shows_from_the_status_alone() {
    // A fresh process (a restart, a new leader) reads the failure from the status: no
    // counter has to move.
    let m = Metrics::new();
    record(&m, &policy("web", failed_backup_status()));
    let text = m.render().unwrap();
    assert!(has(
        &text,
        r#"tidemark_backup_consecutive_failures{namespace="shop",policy="web"} 1.0"#
    ));
    assert!(has(
        &text,
        r#"tidemark_last_failure_timestamp_seconds{namespace="shop",policy="web",kind="backup",reason="PgDumpFailed"} 1795428000.0"#
    ));
}

#[test]
fn a_new_failure_replaces_the_last_failure_series() {
    let m = Metrics::new();
    record(&m, &policy("web", failed_backup_status()));
    let mut later = failed_backup_status();
    later["lastFailure"] = json!({"time": "2026-11-23T10:10:00Z", "kind": "prune",
                                  "reason": "S3Error", "message": "m"});
    record(&m, &policy("web", later));
    let text = m.render().unwrap();
    let failures: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("tidemark_last_failure_timestamp_seconds{"))
        .collect();
    assert_eq!(
        failures,
        vec![
            r#"tidemark_last_failure_timestamp_seconds{namespace="shop",policy="web",kind="prune",reason="S3Error"} 1795428600.0"#
        ]
    );
}

#[test]
fn the_registry_renders_the_process_metrics() {
    let m = Metrics::new();
    m.observe_run(
        "shop",
        "web",
        RunKind::Backup,
        Outcome::Succeeded,
        Some(42.0),
    );
    m.observe_run("shop", "web", RunKind::Backup, Outcome::Failed, Some(3.0));
    m.observe_restore("shop", Outcome::Succeeded, Some(120.0));
    m.observe_reconcile("backuppolicy", None);
    m.observe_reconcile("backuppolicy", Some("Conflict"));
    m.set_leader(true);
    let text = m.render().unwrap();
    let expect = [
        r#"tidemark_runs_total{namespace="shop",policy="web",kind="backup",outcome="succeeded"} 1"#,
        r#"tidemark_runs_total{namespace="shop",policy="web",kind="backup",outcome="failed"} 1"#,
        r#"tidemark_run_duration_seconds_count{namespace="shop",policy="web",kind="backup"} 2"#,
        r#"tidemark_run_duration_seconds_sum{namespace="shop",policy="web",kind="backup"} 45.0"#,
        r#"tidemark_restores_total{namespace="shop",outcome="succeeded"} 1"#,
        r#"tidemark_restore_duration_seconds_count{namespace="shop"} 1"#,
        r#"tidemark_reconciles_total{controller="backuppolicy"} 2"#,
        r#"tidemark_reconcile_errors_total{controller="backuppolicy",reason="Conflict"} 1"#,
        "tidemark_leader 1",
        concat!(
            r#"tidemark_build_info{version=""#,
            env!("CARGO_PKG_VERSION"),
            r#""} 1"#
        ),
    ];
    for e in expect {
        assert!(has(&text, e), "missing {e} in\n{text}");
    }
    assert!(text.contains("# TYPE tidemark_run_duration_seconds histogram"));
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn a_policy_with_every_status_field_has_every_policy_gauge() {
    let m = Metrics::new();
    let p = minimal_policy(|v| {
        v["spec"]["restoreTest"] = json!({"schedule": "0 5 * * 0"});
        v["metadata"]["creationTimestamp"] = json!("2026-11-20T00:00:00Z");
        v["status"] = json!({
            "consecutiveFailures": 0, "backupCount": 1,
            "nextScheduleTime": "2026-11-23T11:00:00Z",
            "lastBackup": {"key": "k", "startedAt": "2026-11-23T09:59:00Z",
                "completedAt": "2026-11-23T10:00:00Z", "storedBytes": 1, "rawBytes": 1,
                "size": "1 B", "sha256": "ab", "totalRows": 1, "tableCount": 1,
                "durationSeconds": 1.0},
            "window": {"oldest": "2026-11-23T10:00:00Z", "newest": "2026-11-23T10:00:00Z"},
            "lastVerification": {"time": "2026-11-23T04:01:00Z", "passed": true},
            "lastRestoreTest": {"time": "2026-11-22T05:10:00Z", "passed": true,
                                "tablesCompared": 5, "restoreDurationSeconds": 42.0},
        });
    });
    record(&m, &p);
    let text = m.render().unwrap();
    for g in PolicyGauge::ALL {
        let series = format!(r#"{}{{namespace="shop",policy="web"}} "#, g.name());
        assert!(
            text.lines().any(|l| l.starts_with(&series)),
            "no {series} in\n{text}"
        );
        assert!(text.contains(&format!("# HELP {} {}", g.name(), g.help())));
    }
}

#[test]
fn restore_requests_export_their_outcome_until_deleted() {
    let m = Metrics::new();
    let r: RestoreRequest = serde_json::from_value(json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "RestoreRequest",
        "metadata": {"name": "r1", "namespace": "shop"},
        "spec": {"source": {"policyRef": {"name": "web"}}, "backup": {"latest": true},
                 "target": {"connection": {"host": "db", "database": "web",
                     "userSecretRef": {"name": "db", "key": "u"},
                     "passwordSecretRef": {"name": "db", "key": "p"}}}},
        "status": {"phase": "Failed", "completedAt": "2026-11-23T10:00:00Z", "durationSeconds": 9.0},
    }))
    .unwrap();
    m.record_request(&r);
    let text = m.render().unwrap();
    assert!(has(
        &text,
        r#"tidemark_restore_request_failed{namespace="shop",request="r1"} 1.0"#
    ));
    assert!(has(
        &text,
        r#"tidemark_restore_request_duration_seconds{namespace="shop",request="r1"} 9.0"#
    ));
    m.forget_request("shop", "r1");
    assert!(!m.render().unwrap().contains(r#"request="r1""#));
}

#[test]
fn a_deleted_policy_leaves_no_series() {
    let m = Metrics::new();
    for name in ["webshop", "other"] {
        let mut status = failed_backup_status();
        status["lastBackup"] = json!({"key": "k", "startedAt": "2026-11-23T09:59:00Z",
            "completedAt": "2026-11-23T10:00:00Z", "storedBytes": 1, "rawBytes": 1,
            "size": "1 B", "sha256": "ab", "totalRows": 1, "tableCount": 1,
            "durationSeconds": 1.0});
        status["lastVerification"] = json!({"time": "2026-11-23T04:01:00Z", "passed": true});
        record(&m, &policy(name, status));
        for kind in [RunKind::Backup, RunKind::Prune, RunKind::Verify] {
            for outcome in Outcome::ALL {
                m.observe_run("shop", name, kind, outcome, Some(1.0));
            }
        }
    }
    m.forget_policy("shop", "webshop");
    let text = m.render().unwrap();
    assert!(!text.contains(r#"policy="webshop""#), "{text}");
    assert!(has(
        &text,
        r#"tidemark_backup_size_bytes{namespace="shop",policy="other"} 1.0"#
    ));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("tidemark_runs_total{") && l.contains(r#"policy="other""#))
            .count(),
        8
    );
}

#[test]
fn a_replica_that_stops_leading_exports_no_object_series() {
    let m = Metrics::new();
    m.set_leader(true);
    record(&m, &policy("web", failed_backup_status()));
    m.set_leader(false);
    let text = m.render().unwrap();
    assert!(!text.contains(r#"policy="web""#), "{text}");
    assert!(has(&text, "tidemark_leader 0"));
    assert!(text.contains("tidemark_build_info{"));
}

/// The `# TYPE` names of a rendering, as series names (counters with `_total`).
fn rendered_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some(if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            })
        })
        .collect();
    names.sort();
    names
}

#[test]
fn metric_names_lists_exactly_what_the_registry_exports() {
    let m = Metrics::new();
    let p = minimal_policy(|v| {
        v["spec"]["restoreTest"] = json!({"schedule": "0 5 * * 0"});
        v["metadata"]["creationTimestamp"] = json!("2026-11-20T00:00:00Z");
        v["status"] = json!({
            "nextScheduleTime": "2026-11-23T11:00:00Z",
            "lastBackup": {"key": "k", "startedAt": "2026-11-23T09:59:00Z",
                "completedAt": "2026-11-23T10:00:00Z", "storedBytes": 1, "rawBytes": 1,
                "size": "1 B", "sha256": "ab", "totalRows": 1, "tableCount": 1,
                "durationSeconds": 1.0},
            "lastFailure": {"time": "2026-11-23T10:00:00Z", "kind": "backup",
                            "reason": "PgDumpFailed", "message": "m"},
            "window": {"oldest": "2026-11-23T10:00:00Z", "newest": "2026-11-23T10:00:00Z"},
            "lastVerification": {"time": "2026-11-23T04:01:00Z", "passed": true},
            "lastRestoreTest": {"time": "2026-11-22T05:10:00Z", "passed": true,
                                "tablesCompared": 5, "restoreDurationSeconds": 42.0},
        });
    });
    record(&m, &p);
    m.observe_run("shop", "web", RunKind::Backup, Outcome::Failed, Some(1.0));
    let r: RestoreRequest = serde_json::from_value(json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "RestoreRequest",
        "metadata": {"name": "r1", "namespace": "shop"},
        "spec": {"source": {"policyRef": {"name": "web"}}, "backup": {"latest": true},
                 "target": {"connection": {"host": "db", "database": "web",
                     "userSecretRef": {"name": "db", "key": "u"},
                     "passwordSecretRef": {"name": "db", "key": "p"}}}},
        "status": {"phase": "Failed", "completedAt": "2026-11-23T10:00:00Z", "durationSeconds": 9.0},
    }))
    .unwrap();
    m.record_request(&r);
    m.observe_restore("shop", Outcome::Failed, Some(9.0));
    m.observe_reconcile("backuppolicy", Some("Conflict"));
    let mut listed: Vec<String> = metric_names().into_iter().map(String::from).collect();
    listed.sort();
    assert_eq!(rendered_names(&m.render().unwrap()), listed);
}

#[test]
fn the_monitoring_page_lists_every_metric() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/monitoring.md");
    let page = std::fs::read_to_string(&path).unwrap();
    for name in metric_names() {
        assert!(
            page.contains(&format!("`{name}")),
            "{name} is not in {}",
            path.display()
        );
    }
}

#[test]
fn stopped_controllers_leave_no_object_series() {
    let m = std::sync::Arc::new(Metrics::new());
    m.set_leader(true);
    let guard = ForgetObjectsOnDrop(m.clone());
    record(&m, &policy("web", failed_backup_status()));
    assert!(m.render().unwrap().contains(r#"policy="web""#));
    drop(guard);
    let text = m.render().unwrap();
    assert!(!text.contains(r#"policy="web""#), "{text}");
    assert!(has(&text, "tidemark_leader 1"));
}

#[test]
fn the_rpo_series_is_the_one_in_use_published_or_derived_from_the_schedule() {
    let rpo = |p: &BackupPolicy| {
        let text = {
            let m = Metrics::new();
            record(&m, p);
            m.render().unwrap()
        };
        text.lines()
            .find(|l| l.starts_with("tidemark_backup_rpo_seconds{"))
            .map(str::to_string)
    };
    // As the status publishes it.
    let published = policy(
        "web",
        json!({"effective": {"longestGap": "24h", "rpo": "47h55m",
                             "maxAge": "47h55m", "deadlineSeconds": 82500}}),
    );
    assert_eq!(
        rpo(&published).as_deref(),
        Some(r#"tidemark_backup_rpo_seconds{namespace="shop",policy="web"} 172500.0"#)
    );
    // Before the first status write: derived from an hourly schedule (1h + 55m).
    let derived = minimal_policy(|v| {
        v["metadata"]["name"] = json!("web");
        v["spec"]["schedule"] = json!("0 * * * *");
        v["spec"].as_object_mut().unwrap().remove("rpo");
    });
    assert_eq!(
        rpo(&derived).as_deref(),
        Some(r#"tidemark_backup_rpo_seconds{namespace="shop",policy="web"} 6900.0"#)
    );
}
