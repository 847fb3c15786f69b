//! The `pg_dump` child process: built from settings, connection passed through its
//! environment, stdout handed to the stream thread, stderr kept (tail) for messages.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use tidemark_crd::contract::values::DumpFormat;

/// How much of pg_dump's stderr is kept for the error message.
const STDERR_TAIL_BYTES: usize = 1500;

/// Everything needed to start `pg_dump`.
#[derive(Clone, Debug)]
pub struct DumpSpec {
    pub binary: PathBuf,
    pub format: DumpFormat,
    pub snapshot: String,
    pub include_schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub include_tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    /// libpq variables (connection, password) for the child's environment.
    pub env: Vec<(&'static str, String)>,
}

impl DumpSpec {
    /// The argument list: no connection settings, no secrets.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            match self.format {
                DumpFormat::Custom => "--format=custom".to_string(),
                DumpFormat::Plain => "--format=plain".to_string(),
            },
            format!("--snapshot={}", self.snapshot),
            "--no-password".to_string(),
        ];
        if self.format == DumpFormat::Custom {
            // The stream is compressed by the runner; pg_dump's own zlib would be slower.
            args.push("--compress=0".to_string());
        }
        let mut add = |flag: &str, values: &[String]| {
            for v in values.iter().filter(|v| !v.trim().is_empty()) {
                args.push(format!("{flag}={}", v.trim()));
            }
        };
        add("--schema", &self.include_schemas);
        add("--exclude-schema", &self.exclude_schemas);
        add("--table", &self.include_tables);
        add("--exclude-table", &self.exclude_tables);
        args
    }
}

/// A running `pg_dump`.
pub struct DumpProcess {
    child: Child,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    finished: Option<ExitStatus>,
}

impl DumpProcess {
    /// Starts `pg_dump`; returns the process and its stdout.
    pub fn spawn(spec: &DumpSpec) -> Result<(Self, ChildStdout)> {
        let mut cmd = crate::pg::env::command(&spec.binary, &spec.env);
        cmd.args(spec.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: a terminal's Ctrl-C reaches the runner, which then
            // stops pg_dump itself, in order.
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::PgDump(format!("cannot start {}: {e}", spec.binary.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Internal("pg_dump stdout missing".into()))?;
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            std::thread::Builder::new()
                .name("pg_dump-stderr".into())
                .spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stderr.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        for line in String::from_utf8_lossy(&buf[..n]).lines() {
                            tracing::warn!(target: "pg_dump", "{line}");
                        }
                        if let Ok(mut t) = tail.lock() {
                            t.extend_from_slice(&buf[..n]);
                            let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
                            t.drain(..excess);
                        }
                    }
                })
                .map_err(|e| Error::Internal(format!("stderr thread: {e}")))?;
        }
        Ok((
            Self {
                child,
                stderr_tail,
                finished: None,
            },
            stdout,
        ))
    }

    /// Waits for `pg_dump` to exit; an unsuccessful exit is an error carrying the tail
    /// of its stderr.
    pub async fn wait_success(&mut self) -> Result<()> {
        let status = loop {
            if let Some(s) = self.finished {
                break s;
            }
            match self.child.try_wait() {
                Ok(Some(s)) => self.finished = Some(s),
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(Error::PgDump(format!("waiting for pg_dump: {e}"))),
            }
        };
        if status.success() {
            return Ok(());
        }
        // Give the stderr thread a moment to collect the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => status.to_string(),
        };
        let tail = self.stderr_tail();
        Err(Error::PgDump(if tail.is_empty() {
            how
        } else {
            format!("{how}: {tail}")
        }))
    }

    /// The last lines pg_dump wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr_tail
            .lock()
            .map(|t| String::from_utf8_lossy(&t).trim().to_string())
            .unwrap_or_default()
    }

    /// Stops `pg_dump` if it still runs and reaps it.
    pub fn kill(&mut self) {
        if self.finished.is_none() {
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
            }
            if let Ok(s) = self.child.wait() {
                self.finished = Some(s);
            }
        }
    }
}

impl Drop for DumpProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_never_carry_connection_settings() {
        let spec = DumpSpec {
            binary: "/x/pg_dump".into(),
            format: DumpFormat::Custom,
            snapshot: "00000003-0000001B-1".into(),
            include_schemas: vec!["shop".into()],
            exclude_schemas: vec![],
            include_tables: vec![],
            exclude_tables: vec!["shop.tmp_*".into(), " ".into()],
            env: vec![("PGPASSWORD", "hunter2".into())],
        };
        let args = spec.args();
        assert_eq!(
            args,
            vec![
                "--format=custom",
                "--snapshot=00000003-0000001B-1",
                "--no-password",
                "--compress=0",
                "--schema=shop",
                "--exclude-table=shop.tmp_*",
            ]
        );
        assert!(!args.iter().any(|a| a.contains("hunter2")));
    }
}
