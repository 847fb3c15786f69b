//! One `tidemark-operator run` process against the API stand-in: its command line is
//! the fixed one of DESIGN.md, its output goes to a log file, and it can be killed
//! (SIGKILL, a crash) and started again with the same settings.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::standin::stop_child;

/// Variables never inherited from the outer environment (settings or credentials).
const SCRUBBED_PREFIXES: &[&str] = &["TIDEMARK_", "PG", "AWS_", "KUBE", "POD_"];

/// How long a started operator may take to answer `/healthz`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings of one operator process.
#[derive(Clone, Debug)]
pub struct OperatorSettings {
    /// The binary.
    pub binary: PathBuf,
    /// The stand-in's kubeconfig (`KUBECONFIG`).
    pub kubeconfig: PathBuf,
    /// `--runner-image`.
    pub runner_image: String,
    /// `--metrics-addr` (127.0.0.1:<free port>).
    pub metrics_addr: String,
    /// `--leader-election` with `--lease-namespace` and `--identity`.
    pub leader_election: Option<LeaderElection>,
    /// `--namespaces` (empty: all).
    pub namespaces: Vec<String>,
    /// Extra arguments after the fixed ones.
    pub extra_args: Vec<String>,
    /// Where stdout and stderr go (appended across restarts).
    pub log: PathBuf,
    /// Run the operator image as a container instead of `binary` (see [`OperatorContainer`]).
    pub container: Option<OperatorContainer>,
}

/// The operator as a container of its image: `podman run --network=host` as UID/GID
/// 65532 with a read-only root filesystem and no capabilities (the chart's security
/// context), the kubeconfig mounted read-only, and extra `/etc/hosts` entries.
#[derive(Clone, Debug)]
pub struct OperatorContainer {
    /// The image ([`crate::images::OPERATOR_IMAGE`]).
    pub image: String,
    /// `--add-host NAME:IP` entries: names only the container's resolver knows.
    pub hosts: Vec<(String, String)>,
}

/// Where the kubeconfig is mounted in the operator container.
const CONTAINER_KUBECONFIG: &str = "/etc/tidemark/kubeconfig";

/// Leader-election settings.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// `--lease-namespace`.
    pub namespace: String,
    /// `--identity`.
    pub identity: String,
}

impl OperatorSettings {
    /// The command-line arguments.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "run".to_string(),
            "--runner-image".to_string(),
            self.runner_image.clone(),
            "--metrics-addr".to_string(),
            self.metrics_addr.clone(),
            "--log-format".to_string(),
            "json".to_string(),
        ];
        if !self.namespaces.is_empty() {
            args.push("--namespaces".to_string());
            args.push(self.namespaces.join(","));
        }
        if let Some(le) = &self.leader_election {
            args.extend([
                "--leader-election".to_string(),
                "--lease-namespace".to_string(),
                le.namespace.clone(),
                "--identity".to_string(),
                le.identity.clone(),
            ]);
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// A running (or stopped) operator process.
#[derive(Debug)]
pub struct OperatorProcess {
    settings: OperatorSettings,
    child: Option<Child>,
}

impl OperatorProcess {
    /// Starts the process and waits until `/healthz` answers (fails when it exits or
    /// stays silent for 15 s).
    pub fn start(settings: OperatorSettings) -> Result<Self> {
        let mut process = Self {
            settings,
            child: None,
        };
        process.restart()?;
        Ok(process)
    }

    /// Starts the process again (after [`Self::kill`]); a running one is stopped first.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.settings.log)
            .with_context(|| format!("opening {}", self.settings.log.display()))?;
        let rust_log =
            std::env::var("TIDEMARK_E2E_RUST_LOG").unwrap_or_else(|_| "info".to_string());
        let mut cmd = match &self.settings.container {
            None => {
                let mut cmd = Command::new(&self.settings.binary);
                cmd.args(self.settings.args());
                for (key, _) in std::env::vars_os() {
                    let k = key.to_string_lossy();
                    if SCRUBBED_PREFIXES.iter().any(|p| k.starts_with(p)) {
                        cmd.env_remove(&key);
                    }
                }
                cmd.env("KUBECONFIG", &self.settings.kubeconfig)
                    .env("RUST_LOG", rust_log);
                cmd
            }
            Some(container) => self.container_command(container, &rust_log),
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.settings.binary.display()))?;
        self.child = Some(child);
        self.wait_healthy()
    }

    fn wait_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + HEALTH_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "tidemark-operator {:?} exited at start ({status}); log {}:\n{}",
                    self.settings.args(),
                    self.settings.log.display(),
                    tail(&self.settings.log, 30)
                );
            }
            if http_status(&self.settings.metrics_addr, "/healthz") == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "tidemark-operator did not answer /healthz on {} within {HEALTH_TIMEOUT:?}; log {}:\n{}",
                    self.settings.metrics_addr,
                    self.settings.log.display(),
                    tail(&self.settings.log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The container's name (from the metrics port, unique among running operators).
    fn container_name(&self) -> String {
        let port = self.settings.metrics_addr.rsplit(':').next().unwrap_or("0");
        format!("tidemark-operator-test-{port}")
    }

    fn container_command(&self, container: &OperatorContainer, rust_log: &str) -> Command {
        let name = self.container_name();
        remove_container(&name);
        let mut cmd = crate::images::podman();
        cmd.args([
            "run",
            "--rm",
            "--pull=never",
            "--name",
            &name,
            "--network=host",
        ])
        .args([
            "--user",
            "65532:65532",
            "--read-only",
            "--read-only-tmpfs=false",
        ])
        .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"])
        .arg("--volume")
        .arg(format!(
            "{}:{CONTAINER_KUBECONFIG}:ro",
            self.settings.kubeconfig.display()
        ))
        .args(["--env", &format!("KUBECONFIG={CONTAINER_KUBECONFIG}")])
        .args(["--env", &format!("RUST_LOG={rust_log}")]);
        for (host, ip) in &container.hosts {
            cmd.args(["--add-host", &format!("{host}:{ip}")]);
        }
        cmd.arg(&container.image).args(self.settings.args());
        cmd
    }

    /// SIGKILL: a crash, no cleanup (a held Lease stays until it expires).
    pub fn kill(&mut self) {
        if self.settings.container.is_some() {
            let _ = crate::images::podman()
                .args(["kill", "--signal", "KILL", &self.container_name()])
                .output();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 5 s: a graceful shutdown.
    pub fn stop(&mut self) {
        if self.settings.container.is_some() && self.child.is_some() {
            let _ = crate::images::podman()
                .args(["stop", "--time", "5", &self.container_name()])
                .output();
        }
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
        if self.settings.container.is_some() {
            remove_container(&self.container_name());
        }
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Its settings.
    pub fn settings(&self) -> &OperatorSettings {
        &self.settings
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.settings.log).unwrap_or_default()
    }

    /// `GET http://<metrics addr><path>`: status and body.
    pub fn http_get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.settings.metrics_addr, path)
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn remove_container(name: &str) {
    let _ = crate::images::podman()
        .args(["rm", "--force", "--ignore", "--time", "0", name])
        .output();
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    http_get(addr, path).map(|(code, _)| code)
}

/// A minimal HTTP/1.1 GET without a client library.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}
