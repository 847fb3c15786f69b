//! A real Prometheus and Alertmanager (Debian's `prometheus` and
//! `prometheus-alertmanager`, installed by `scripts/setup.sh`) on 127.0.0.1 with free
//! ports: Prometheus scrapes given targets every second, evaluates the chart's rules
//! every second and sends to the Alertmanager; the test reads both HTTP APIs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::standin::stop_child;
use crate::tools::{find_program, free_ports, workspace_root};

/// How long each server may take to answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The chart's rules file (the one source of the alerts).
pub fn rules_file() -> PathBuf {
    workspace_root().join("charts/tidemark/files/prometheus-rules.yaml")
}

/// The chart's Grafana dashboard.
pub fn dashboard_file() -> PathBuf {
    workspace_root().join("charts/tidemark/files/grafana-dashboard.json")
}

/// `rules` with every rule's `for:` duration replaced by `for_` (the tests cannot wait
/// the minutes the shipped rules hold a condition); nothing else changes.
pub fn with_short_for(rules: &str, for_: &str) -> String {
    let mut rule_keys_indent = None;
    rules
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.starts_with("- alert:") || trimmed.starts_with("- record:") {
                rule_keys_indent = Some(indent + 2);
            }
            if trimmed.starts_with("for: ") && rule_keys_indent == Some(indent) {
                format!("{}for: {for_}", &line[..indent])
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An HTTP/1.0 GET (no chunked bodies): status and body.
fn get(addr: &str, path: &str) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status from {addr}{path}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// Prometheus and Alertmanager, stopped on drop.
pub struct Monitoring {
    prometheus: Child,
    alertmanager: Child,
    prometheus_addr: String,
    alertmanager_addr: String,
    dir: PathBuf,
}

impl Monitoring {
    /// Starts both in `dir` (configs, data, logs): Prometheus scrapes `targets` (job
    /// `tidemark`, `honor_labels`) every second and loads `rules` (the text of a rules
    /// file); waits until both are ready.
    pub fn start(dir: &Path, targets: &[String], rules: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let ports = free_ports(2)?;
        let prometheus_addr = format!("127.0.0.1:{}", ports[0]);
        let alertmanager_addr = format!("127.0.0.1:{}", ports[1]);
        let am_config = dir.join("alertmanager.yml");
        std::fs::write(
            &am_config,
            "route:\n  receiver: tests\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: tests\n",
        )?;
        let alertmanager_bin =
            find_program("prometheus-alertmanager").or_else(|_| find_program("alertmanager"))?;
        let alertmanager = spawn(
            Command::new(alertmanager_bin)
                .arg(format!("--config.file={}", am_config.display()))
                .arg(format!("--storage.path={}", dir.join("am-data").display()))
                .arg(format!("--web.listen-address={alertmanager_addr}"))
                // No gossip cluster: one Alertmanager, no port 9094.
                .arg("--cluster.listen-address="),
            &dir.join("alertmanager.log"),
        )?;
        let rules_path = dir.join("rules.yaml");
        std::fs::write(&rules_path, rules)?;
        let target_list = targets
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [\"{}\"]\n\
             alerting:\n  alertmanagers:\n    - static_configs: [{{targets: [\"{alertmanager_addr}\"]}}]\n\
             scrape_configs:\n  - job_name: tidemark\n    honor_labels: true\n    static_configs: [{{targets: [{target_list}]}}]\n",
            rules_path.display()
        );
        let prom_config = dir.join("prometheus.yml");
        std::fs::write(&prom_config, config)?;
        let prometheus = spawn(
            Command::new(find_program("prometheus")?)
                .arg(format!("--config.file={}", prom_config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("prom-data").display()
                ))
                .arg(format!("--web.listen-address={prometheus_addr}")),
            &dir.join("prometheus.log"),
        )?;
        let monitoring = Self {
            prometheus,
            alertmanager,
            prometheus_addr,
            alertmanager_addr,
            dir: dir.to_path_buf(),
        };
        monitoring.wait_ready(&monitoring.alertmanager_addr, "alertmanager.log")?;
        monitoring.wait_ready(&monitoring.prometheus_addr, "prometheus.log")?;
        Ok(monitoring)
    }

    fn wait_ready(&self, addr: &str, log: &str) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(get(addr, "/-/ready"), Ok((200, _))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "{addr} not ready within {READY_TIMEOUT:?}; see {}",
            self.dir.join(log).display()
        )
    }

    /// Runs an instant query; the API's `data`, or an error with Prometheus' message
    /// (e.g. a parse error).
    pub fn query(&self, promql: &str) -> Result<Value> {
        let (code, body) = get(
            &self.prometheus_addr,
            &format!("/api/v1/query?query={}", encode(promql)),
        )?;
        let v: Value = serde_json::from_str(&body)
            .with_context(|| format!("HTTP {code} from Prometheus: {body}"))?;
        if v["status"] != "success" {
            bail!(
                "Prometheus rejected {promql:?}: {} {}",
                v["errorType"],
                v["error"]
            );
        }
        Ok(v["data"].clone())
    }

    /// Every metric name Prometheus has stored.
    pub fn metric_names(&self) -> Result<Vec<String>> {
        let (_, body) = get(&self.prometheus_addr, "/api/v1/label/__name__/values")?;
        let v: Value = serde_json::from_str(&body)?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(String::from))
            .collect())
    }

    /// The alerts the Alertmanager holds (`GET /api/v2/alerts`), each as its label map.
    pub fn alertmanager_alerts(&self) -> Result<Vec<Value>> {
        let (code, body) = get(&self.alertmanager_addr, "/api/v2/alerts")?;
        let v: Value = serde_json::from_str(&body)
            .with_context(|| format!("HTTP {code} from Alertmanager: {body}"))?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(|a| a["labels"].clone())
            .collect())
    }

    /// Where the configs and logs are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn spawn(command: &mut Command, log: &Path) -> Result<Child> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .with_context(|| format!("starting {command:?}"))
}

impl Drop for Monitoring {
    fn drop(&mut self) {
        stop_child(&mut self.prometheus, Duration::from_secs(5));
        stop_child(&mut self.alertmanager, Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_durations_are_shortened_and_nothing_else_changes() {
        let rules = "  - alert: A\n    expr: up == 0\n    for: 10m\n    labels:\n      for: keep\n";
        assert_eq!(
            with_short_for(rules, "2s"),
            "  - alert: A\n    expr: up == 0\n    for: 2s\n    labels:\n      for: keep"
        );
        assert_eq!(encode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
    }
}
