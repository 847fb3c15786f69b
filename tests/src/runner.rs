//! Running the real `tidemark-runner` binary with a clean, explicit environment and
//! collecting its exit code, output, report line and termination-message file.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use anyhow::{Context, Result};
use tempfile::TempDir;

/// Prefixes of variables removed from the inherited environment, so the outer shell
/// can never leak settings or credentials into a test run.
const SCRUBBED_PREFIXES: &[&str] = &["TIDEMARK_", "PG", "AWS_"];

/// A prepared runner invocation.
pub struct RunnerCommand {
    cmd: Command,
    dir: TempDir,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunnerOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The last stdout line parsed as JSON.
    pub report: Option<serde_json::Value>,
    /// Raw contents of the termination-message file.
    pub termination_log: String,
}

impl RunnerCommand {
    /// `bin args…` with `env` on top of a scrubbed environment and the termination
    /// log pointed into a temp dir.
    pub fn new(bin: &Path, args: &[&str], env: &[(String, String)]) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("tidemark-run-").tempdir()?;
        let mut cmd = Command::new(bin);
        cmd.args(args);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if SCRUBBED_PREFIXES.iter().any(|p| k.starts_with(p)) {
                cmd.env_remove(&key);
            }
        }
        // No instance-metadata lookups and no profile files from the host.
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.path().join("no-aws-credentials"),
            )
            .env(
                "TIDEMARK_TERMINATION_LOG",
                dir.path().join("termination-log"),
            )
            .env("RUST_LOG", "info");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null());
        Ok(Self { cmd, dir })
    }

    /// Sets or overrides one variable.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    /// Removes one variable.
    pub fn env_remove(&mut self, key: &str) -> &mut Self {
        self.cmd.env_remove(key);
        self
    }

    /// Runs to completion.
    pub fn run(mut self) -> Result<RunnerOutput> {
        let out = self.cmd.output().context("running tidemark-runner")?;
        Ok(self.collect(out))
    }

    /// Starts in the background (for signal tests); finish with [`Self::wait`].
    pub fn spawn(mut self) -> Result<(Child, Self)> {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = self.cmd.spawn().context("starting tidemark-runner")?;
        Ok((child, self))
    }

    /// Waits for a spawned run.
    pub fn wait(self, child: Child) -> Result<RunnerOutput> {
        let out = child
            .wait_with_output()
            .context("waiting for tidemark-runner")?;
        Ok(self.collect(out))
    }

    fn collect(self, out: Output) -> RunnerOutput {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let report = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str(l).ok());
        RunnerOutput {
            code: out.status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            report,
            termination_log: std::fs::read_to_string(self.dir.path().join("termination-log"))
                .unwrap_or_default(),
        }
    }
}
