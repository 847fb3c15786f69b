//! Every PostgreSQL client tool the runner starts — `pg_dump` for a backup,
//! `pg_restore` and `psql` for a restore — runs through [`ToolProcess`]: started with
//! an environment of exactly the connection settings its spec names (see
//! [`crate::pg::env`]: nothing of the runner's own secrets) and never a setting in argv,
//! in its own process group, with the tail of its stderr kept for the error message,
//! and killed when its handle is dropped.
//!
//! A tool that reads its input from the runner gets a [`GatedStdin`], a stdin that can
//! only end in two ways — released on purpose, or with the process killed *first*.
//! That ordering is the point: `psql --single-transaction` commits when its input
//! ends, so closing the pipe of a half-fed restore would commit half a restore. A
//! [`GatedStdin`] that is dropped without [`GatedStdin::release`] (an error, a signal,
//! a panic unwinding) kills the process before the pipe closes; the server then sees
//! the connection vanish and rolls the transaction back.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};

/// How much of the tool's stderr is kept for the error message.
const STDERR_TAIL_BYTES: usize = 1500;

/// The client tools the runner runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    PgDump,
    PgRestore,
    Psql,
}

impl Tool {
    /// The binary's name (`<root>/<major>/bin/<name>`), also used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Tool::PgDump => "pg_dump",
            Tool::PgRestore => "pg_restore",
            Tool::Psql => "psql",
        }
    }

    /// The runner error of this tool failing: a failed dump is `PgDumpFailed`, a
    /// failed restore tool `RestoreFailed`.
    pub fn error(self, message: String) -> Error {
        match self {
            Tool::PgDump => Error::PgDump(message),
            Tool::PgRestore | Tool::Psql => Error::Restore {
                tool: self.name(),
                message,
            },
        }
    }
}

/// What to start.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    pub tool: Tool,
    pub binary: PathBuf,
    /// Arguments: no connection settings, no secrets.
    pub args: Vec<String>,
    /// libpq variables (connection, password) for the child's environment; nothing
    /// else of the runner's environment but locale, time zone and `PATH` reaches it.
    pub env: Vec<(&'static str, String)>,
    /// Whether the runner feeds the tool's stdin (a [`GatedStdin`]; else /dev/null).
    pub stdin: bool,
    /// Whether stdout is piped back to the runner (else discarded).
    pub capture_stdout: bool,
}

/// Kills the child; shared by the stdin guard and the orchestrator.
#[derive(Clone, Debug)]
pub struct Killer {
    child: Arc<Mutex<Child>>,
}

impl Killer {
    /// Sends SIGKILL if the process still runs and reaps it.
    pub fn kill(&self) {
        if let Ok(mut child) = self.child.lock()
            && let Ok(None) = child.try_wait()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit status, if the process has ended.
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        match self.child.lock() {
            Ok(mut child) => child.try_wait(),
            Err(_) => Err(io::Error::other("child lock poisoned")),
        }
    }
}

/// A running tool.
#[derive(Debug)]
pub struct ToolProcess {
    pub tool: Tool,
    /// The tool's name, for messages.
    pub name: &'static str,
    killer: Killer,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
}

/// A started tool and its pipes.
pub struct Started {
    pub process: ToolProcess,
    /// Present when the spec asked for `stdin`.
    pub stdin: Option<GatedStdin>,
    /// Present when the spec asked for `capture_stdout`.
    pub stdout: Option<ChildStdout>,
}

impl ToolProcess {
    /// Starts the tool.
    pub fn spawn(spec: &ToolSpec) -> Result<Started> {
        let tool = spec.tool;
        let piped = |yes: bool| if yes { Stdio::piped() } else { Stdio::null() };
        let mut cmd = crate::pg::env::command(&spec.binary, &spec.env);
        cmd.args(&spec.args)
            .stdin(piped(spec.stdin))
            .stdout(piped(spec.capture_stdout))
            .stderr(Stdio::piped())
            // Own process group: a terminal's Ctrl-C reaches the runner only, which
            // then stops the tool itself, in order.
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| tool.error(format!("cannot start {}: {e}", spec.binary.display())))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let killer = Killer {
            child: Arc::new(Mutex::new(child)),
        };
        if spec.stdin != stdin.is_some() || spec.capture_stdout != stdout.is_some() {
            killer.kill();
            return Err(Error::Internal(format!("{} pipes missing", tool.name())));
        }
        let stdin = stdin.map(|s| GatedStdin::new(s, killer.clone()));
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = stderr {
            spawn_stderr_reader(tool.name(), stderr, stderr_tail.clone())?;
        }
        Ok(Started {
            process: ToolProcess {
                tool,
                name: tool.name(),
                killer,
                stderr_tail,
            },
            stdin,
            stdout,
        })
    }

    /// A handle that can kill the process from anywhere.
    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }

    /// Kills the process if it still runs.
    pub fn kill(&self) {
        self.killer.kill();
    }

    /// The exit status if the process has already ended.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.killer.try_wait().ok().flatten()
    }

    /// Waits for the process to exit (polling, so the lock is never held while waiting).
    pub async fn wait(&self) -> Result<ExitStatus> {
        loop {
            match self.killer.try_wait() {
                Ok(Some(s)) => return Ok(s),
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    return Err(self.tool.error(format!("waiting for the process: {e}")));
                }
            }
        }
    }

    /// Waits; an unsuccessful exit is an error carrying the tail of stderr.
    pub async fn wait_success(&self) -> Result<()> {
        let status = self.wait().await?;
        if status.success() {
            return Ok(());
        }
        // Give the stderr thread a moment to collect the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(self.failure(status))
    }

    /// The error describing an unsuccessful exit.
    pub fn failure(&self, status: ExitStatus) -> Error {
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => status.to_string(),
        };
        let tail = self.stderr_tail();
        self.tool.error(if tail.is_empty() {
            how
        } else {
            format!("{how}: {tail}")
        })
    }

    /// The last lines the tool wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr_tail
            .lock()
            .map(|t| String::from_utf8_lossy(&t).trim().to_string())
            .unwrap_or_default()
    }
}

impl Drop for ToolProcess {
    fn drop(&mut self) {
        self.killer.kill();
    }
}

fn spawn_stderr_reader(
    name: &'static str,
    mut stderr: std::process::ChildStderr,
    tail: Arc<Mutex<Vec<u8>>>,
) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("{name}-stderr"))
        .spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                for line in String::from_utf8_lossy(&buf[..n]).lines() {
                    tracing::warn!(tool = name, "{line}");
                }
                if let Ok(mut t) = tail.lock() {
                    t.extend_from_slice(&buf[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
                    t.drain(..excess);
                }
            }
        })
        .map(|_| ())
        .map_err(|e| Error::Internal(format!("stderr thread: {e}")))
}

/// The child's stdin: closing it is a decision. Dropped without [`Self::release`], it
/// kills the child before the pipe closes.
#[derive(Debug)]
pub struct GatedStdin {
    stdin: Option<ChildStdin>,
    killer: Killer,
}

impl GatedStdin {
    fn new(stdin: ChildStdin, killer: Killer) -> Self {
        Self {
            stdin: Some(stdin),
            killer,
        }
    }

    /// Closes the pipe normally: the tool sees the end of its input.
    pub fn release(mut self) -> io::Result<()> {
        if let Some(mut s) = self.stdin.take() {
            s.flush()?;
        }
        Ok(())
    }

    fn pipe(&mut self) -> io::Result<&mut ChildStdin> {
        self.stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin already closed"))
    }
}

impl Write for GatedStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pipe()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.pipe()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pipe()?.flush()
    }
}

impl Drop for GatedStdin {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            // Kill first, then let the pipe close (field drop after this body).
            self.killer.kill();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sh(tool: Tool, script: &str, stdin: bool) -> Started {
        ToolProcess::spawn(&ToolSpec {
            tool,
            binary: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PGUSER", "u".into())],
            stdin,
            capture_stdout: true,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_failing_tool_reports_its_status_and_stderr_as_its_own_error() {
        let script = "echo \"user $PGUSER\"; echo 'FATAL: no such table' >&2; exit 3";
        for (tool, reason) in [
            (Tool::PgDump, "PgDumpFailed"),
            (Tool::PgRestore, "RestoreFailed"),
            (Tool::Psql, "RestoreFailed"),
        ] {
            let started = sh(tool, script, false);
            assert!(started.stdin.is_none());
            let mut out = String::new();
            started.stdout.unwrap().read_to_string(&mut out).unwrap();
            assert_eq!(out, "user u\n", "the spec's variables are the child's");
            let err = started.process.wait_success().await.unwrap_err();
            assert_eq!(err.reason(), reason);
            let text = err.to_string();
            assert!(
                text.contains("exited with status 3: FATAL: no such table"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn stdin_ends_only_when_released_or_after_the_tool_was_killed() {
        let script = "cat >/dev/null; echo done";
        let released = sh(Tool::Psql, script, true);
        let mut stdin = released.stdin.unwrap();
        stdin.write_all(b"SELECT 1;\n").unwrap();
        stdin.release().unwrap();
        released.process.wait_success().await.unwrap();

        // Dropped without a release: the tool never sees the end of its input.
        let dropped = sh(Tool::Psql, script, true);
        let mut out = String::new();
        drop(dropped.stdin);
        dropped.stdout.unwrap().read_to_string(&mut out).unwrap();
        let status = dropped.process.wait().await.unwrap();
        assert_eq!(status.signal(), Some(9), "{status:?}");
        assert_eq!(out, "", "the tool saw the end of its input");
    }
}
