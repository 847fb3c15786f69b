//! Running the real `tidemark-runner` binary with a clean, explicit environment and
//! collecting its exit code, output, report line and termination-message file.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use tempfile::TempDir;

/// Prefixes of variables removed from the inherited environment, so the outer shell
/// can never leak settings or credentials into a test run.
const SCRUBBED_PREFIXES: &[&str] = &["TIDEMARK_", "PG", "AWS_"];

/// A prepared runner invocation.
pub struct RunnerCommand {
    cmd: Command,
    dir: TempDir,
    /// The threads draining a spawned run's stdout and stderr.
    drains: Option<(Drain, Drain)>,
}

/// A thread reading one output pipe of a spawned run to its end.
type Drain = JoinHandle<std::io::Result<Vec<u8>>>;

/// Reads `pipe` to its end on its own thread, so a chatty child never blocks on a full
/// pipe while the test waits for something else.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Drain {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_end(&mut bytes)?;
        }
        Ok(bytes)
    })
}

/// The bytes a drain read.
fn drained(drain: Drain, what: &str) -> Result<Vec<u8>> {
    drain
        .join()
        .map_err(|_| anyhow::anyhow!("the thread reading the runner's {what} panicked"))?
        .with_context(|| format!("reading the runner's {what}"))
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
        Ok(Self {
            cmd,
            dir,
            drains: None,
        })
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

    /// Starts in the background (for signal tests); finish with [`Self::wait`]. Its
    /// stdout and stderr are read by background threads from the start (the returned
    /// child has no pipes), so however much it logs it never blocks.
    pub fn spawn(mut self) -> Result<(Child, Self)> {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().context("starting tidemark-runner")?;
        self.drains = Some((drain(child.stdout.take()), drain(child.stderr.take())));
        Ok((child, self))
    }

    /// Waits for a spawned run and collects everything it wrote.
    pub fn wait(mut self, mut child: Child) -> Result<RunnerOutput> {
        let status = child.wait().context("waiting for tidemark-runner")?;
        let (stdout, stderr) = match self.drains.take() {
            Some((out, err)) => (drained(out, "stdout")?, drained(err, "stderr")?),
            None => anyhow::bail!("wait() on a run that was not spawned"),
        };
        Ok(self.collect(Output {
            status,
            stdout,
            stderr,
        }))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A spawned process that writes far more than a pipe holds to both outputs and
    /// only then marks that it got past them: it gets there while nobody waits for it,
    /// and everything it wrote (and its report line) is kept.
    #[test]
    fn a_chatty_spawned_run_never_blocks_and_keeps_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("past-the-logs");
        let script = format!(
            "head -c 1048576 /dev/zero | tr '\\0' e >&2; head -c 1048576 /dev/zero | tr '\\0' x; \
             echo; touch {}; echo '{{\"outcome\":\"succeeded\"}}'",
            mark.display()
        );
        let cmd = RunnerCommand::new(Path::new("/bin/sh"), &["-c", &script], &[]).unwrap();
        let (child, cmd) = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !mark.exists() {
            assert!(
                Instant::now() < deadline,
                "the child blocked on a full pipe"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = cmd.wait(child).unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stderr.len(), 1 << 20);
        assert!(out.stderr.chars().all(|c| c == 'e'));
        assert_eq!(out.stdout.matches('x').count(), 1 << 20);
        assert_eq!(out.report.unwrap()["outcome"], "succeeded");
    }
}
