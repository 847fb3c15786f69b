//! A client tool run as a child process for a restore (`pg_restore`, `psql`): started
//! with its connection settings in its environment (never argv), stderr kept (tail) for
//! messages, and a stdin that can only end in two ways — released on purpose, or with
//! the process killed *first*.
//!
//! That ordering is the point of [`GatedStdin`]: `psql --single-transaction` commits
//! when its input ends, so closing the pipe of a half-fed restore would commit half a
//! restore. A [`GatedStdin`] that is dropped without [`GatedStdin::release`] (an error,
//! a signal, a panic unwinding) kills the process before the pipe closes; the server
//! then sees the connection vanish and rolls the transaction back.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};

/// How much of the tool's stderr is kept for the error message.
const STDERR_TAIL_BYTES: usize = 1500;

/// What to start.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    /// `pg_restore` or `psql`, for messages.
    pub name: &'static str,
    pub binary: PathBuf,
    /// Arguments: no connection settings, no secrets.
    pub args: Vec<String>,
    /// libpq variables (connection, password) for the child's environment.
    pub env: Vec<(&'static str, String)>,
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
    pub name: &'static str,
    killer: Killer,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
}

/// A started tool and its pipes.
pub struct Started {
    pub process: ToolProcess,
    pub stdin: GatedStdin,
    pub stdout: Option<ChildStdout>,
}

impl ToolProcess {
    /// Starts the tool with stdin piped.
    pub fn spawn(spec: &ToolSpec) -> Result<Started> {
        let mut cmd = crate::pg::env::command(&spec.binary, &spec.env);
        cmd.args(&spec.args)
            .stdin(Stdio::piped())
            .stdout(if spec.capture_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            // Own process group: a terminal's Ctrl-C reaches the runner only, which
            // then stops the tool itself, in order.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| Error::Restore {
            tool: spec.name,
            message: format!("cannot start {}: {e}", spec.binary.display()),
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let killer = Killer {
            child: Arc::new(Mutex::new(child)),
        };
        let stdin = match stdin {
            Some(s) => GatedStdin::new(s, killer.clone()),
            None => {
                killer.kill();
                return Err(Error::Internal(format!("{} stdin missing", spec.name)));
            }
        };
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = stderr {
            spawn_stderr_reader(spec.name, stderr, stderr_tail.clone())?;
        }
        Ok(Started {
            process: ToolProcess {
                name: spec.name,
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
                    return Err(Error::Restore {
                        tool: self.name,
                        message: format!("waiting for the process: {e}"),
                    });
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
        Error::Restore {
            tool: self.name,
            message: if tail.is_empty() {
                how
            } else {
                format!("{how}: {tail}")
            },
        }
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
