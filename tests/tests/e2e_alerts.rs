//! The chart's alert rules and dashboard on real parts: a real Prometheus scrapes the real
//! operator running on the API stand-in, evaluates `charts/tidemark/files/prometheus-rules.yaml`
//! (every `for:` shortened to 2 s, nothing else changed) every second and sends to a real
//! Alertmanager, whose API the test reads:
//! - a policy whose first backup fails raises `TidemarkBackupFailed`;
//! - a policy without a backup raises `TidemarkBackupStale` at its `rpo` (61 s), not before;
//! - a suspended policy raises nothing, unless annotated `tidemark.dev/alert-when-suspended`;
//! - stopping the operator raises the dead-man `TidemarkOperatorDown`.
//!
//! And every query of the Grafana dashboard runs on that Prometheus: it must parse and name
//! only metrics the operator exports. About 70 s, most of it the rpo.
//!
//! Needs `scripts/setup.sh` (Debian's prometheus and prometheus-alertmanager) and the
//! binaries built (`cargo test --workspace` does it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidemark_testkit::cluster::{Cluster, ClusterOptions};
use tidemark_testkit::monitoring::{Monitoring, dashboard_file, rules_file, with_short_for};
use tidemark_testkit::tools::free_port;

/// The rpo of the stale and suspended policies: just over the every-minute schedule's
/// gap, so the spec stays valid (an rpo shorter than the schedule's gap is not).
const RPO_SECONDS: u64 = 61;

/// Whether the Alertmanager holds an alert `alertname` whose labels include `labels`.
fn has_alert(alerts: &[Value], alertname: &str, labels: &[(&str, &str)]) -> bool {
    alerts.iter().any(|a| {
        a["alertname"] == alertname && labels.iter().all(|(k, v)| a[*k].as_str() == Some(*v))
    })
}

/// A policy whose database port refuses connections, so every backup fails at once.
fn policy(cluster: &Cluster, name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = cluster.policy(name);
    p["spec"]["database"]["port"] = json!(free_port().unwrap());
    edit(&mut p);
    p
}

/// Every query of the dashboard (panels, rows' panels and the template variables), with
/// Grafana's variables replaced by what Grafana would send.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    fn panels(list: &Value, out: &mut Vec<String>) {
        for p in list.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push(t["expr"].as_str().unwrap().to_string());
            }
            panels(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dashboard["panels"], &mut out);
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            // label_values(<selector>, <label>): the selector is the PromQL part.
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.rsplit_once(','))
                .map(|(selector, _)| selector.to_string())
                .unwrap_or_else(|| panic!("unexpected variable query {q}"));
            out.push(inner);
        }
    }
    out.into_iter()
        .map(|q| {
            q.replace("$namespace", ".*")
                .replace("$policy", ".*")
                .replace("$__rate_interval", "1m")
        })
        .collect()
}

/// The `tidemark_*` names in a query.
fn metric_names_in(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(i) = rest.find("tidemark_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        names.push(name);
    }
    names
}

/// A series name as the operator registers it: a histogram's `_bucket`/`_sum`/`_count`
/// belong to its base name.
fn family(name: &str, exported: &[&str]) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && exported.contains(&base)
        {
            return base.to_string();
        }
    }
    name.to_string()
}

fn check_dashboard(monitoring: &Monitoring) {
    let exported = tidemark_operator::metrics::metric_names();
    // The list is what the operator really exports: every tidemark_* name Prometheus
    // scraped is on it.
    for name in monitoring.metric_names().unwrap() {
        if name.starts_with("tidemark_") {
            let f = family(&name, &exported);
            assert!(
                exported.contains(&f.as_str()),
                "scraped {name}, not in metric_names()"
            );
        }
    }
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard_file()).unwrap()).unwrap();
    // The check can fail: a query that does not parse is an error.
    assert!(
        monitoring
            .query("max by (namespace) (tidemark_leader")
            .is_err()
    );
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{queries:?}");
    for q in &queries {
        monitoring
            .query(q)
            .unwrap_or_else(|e| panic!("dashboard query does not run: {e:#}"));
        let names = metric_names_in(q);
        assert!(!names.is_empty(), "{q} names no tidemark metric");
        for name in names {
            let f = family(&name, &exported);
            assert!(
                exported.contains(&f.as_str()),
                "the dashboard query {q} names {name}, which the operator does not export"
            );
        }
    }
}

#[tokio::test]
async fn alerts_fire_on_a_real_prometheus_and_alertmanager() {
    let started = Instant::now();
    let mut cluster = Cluster::start(ClusterOptions::new("e2e_alerts"))
        .await
        .unwrap();
    let target = cluster.operator(0).unwrap().settings().metrics_addr.clone();
    let rules = with_short_for(&std::fs::read_to_string(rules_file()).unwrap(), "2s");
    let monitoring =
        Monitoring::start(&cluster.log_dir().join("monitoring"), &[target], &rules).unwrap();

    // failing: its first (and only) backup fails. stale: every minute, every backup
    // fails, so its newest success stays "never" and it turns stale at its rpo.
    // paused/paused-watched: the same as stale, suspended; the second opts in.
    let every_minute = |p: &mut Value| {
        p["spec"]["schedule"] = json!("* * * * *");
        p["spec"]["rpo"] = json!(format!("{RPO_SECONDS}s"));
    };
    let failing = policy(&cluster, "failing", |p| {
        p["spec"]["runNow"] = json!("first");
        p["spec"]["rpo"] = json!("9000h");
    });
    let stale = policy(&cluster, "stale", every_minute);
    let paused = policy(&cluster, "paused", |p| {
        every_minute(p);
        p["spec"]["suspend"] = json!(true);
    });
    let watched = policy(&cluster, "paused-watched", |p| {
        every_minute(p);
        p["spec"]["suspend"] = json!(true);
        p["metadata"]["annotations"] = json!({"tidemark.dev/alert-when-suspended": "true"});
    });
    for p in [&failing, &stale, &paused, &watched] {
        cluster.apply_json(p).await.unwrap();
    }
    let created = Instant::now();

    // The first failed backup of a new policy.
    cluster
        .wait_until(
            "TidemarkBackupFailed for failing in the Alertmanager",
            Duration::from_secs(40),
            || async {
                let alerts = monitoring.alertmanager_alerts()?;
                Ok(
                    has_alert(&alerts, "TidemarkBackupFailed", &[("policy", "failing")])
                        .then_some(()),
                )
            },
        )
        .await
        .unwrap();
    let failed_after = created.elapsed();

    // The dashboard's queries, on the Prometheus that scrapes the operator.
    check_dashboard(&monitoring);

    // Stale at the rpo: not before it, and soon after.
    let rpo = Duration::from_secs(RPO_SECONDS);
    cluster
        .wait_until(
            "TidemarkBackupStale for stale and paused-watched",
            rpo + Duration::from_secs(30),
            || async {
                let alerts = monitoring.alertmanager_alerts()?;
                let stale = has_alert(&alerts, "TidemarkBackupStale", &[("policy", "stale")]);
                if stale {
                    assert!(
                        created.elapsed() >= rpo - Duration::from_secs(5),
                        "stale after {:?}, before its rpo",
                        created.elapsed()
                    );
                }
                let watched = has_alert(
                    &alerts,
                    "TidemarkBackupStale",
                    &[("policy", "paused-watched")],
                );
                Ok((stale && watched).then_some(()))
            },
        )
        .await
        .unwrap();
    let stale_after = created.elapsed();

    // The suspended policy raised nothing, not even a pending alert.
    let alerts = monitoring.alertmanager_alerts().unwrap();
    assert!(
        !alerts.iter().any(|a| a["policy"] == "paused"),
        "{alerts:#?}"
    );
    let pending = monitoring.query(r#"ALERTS{policy="paused"}"#).unwrap();
    assert_eq!(pending["result"], json!([]), "{pending}");
    assert!(
        !has_alert(&alerts, "TidemarkOperatorDown", &[]),
        "{alerts:#?}"
    );

    // The dead-man: the operator stops, every series goes, one alert says so.
    cluster.kill_operator(0).unwrap();
    let killed = Instant::now();
    cluster
        .wait_until(
            "TidemarkOperatorDown in the Alertmanager",
            Duration::from_secs(30),
            || async {
                let alerts = monitoring.alertmanager_alerts()?;
                Ok(has_alert(&alerts, "TidemarkOperatorDown", &[]).then_some(()))
            },
        )
        .await
        .unwrap();
    eprintln!(
        "e2e_alerts: BackupFailed after {failed_after:?}, BackupStale after {stale_after:?} \
         (rpo {rpo:?}), OperatorDown {:?} after the kill; {:?} in all; logs in {}",
        killed.elapsed(),
        started.elapsed(),
        monitoring.dir().display()
    );
}
