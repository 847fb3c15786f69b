//! Writing the result report: one compact JSON object, under 4 KiB, to the
//! termination-message file and as the last line of stdout.

use std::io::Write;
use std::path::{Path, PathBuf};

use tidemark_crd::contract::result::{MAX_REPORT_BYTES, RunnerReport};

use crate::error::{Error, Result};

/// Default termination-message path of a Kubernetes container.
pub const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";

/// Marker appended to a truncated message.
const ELLIPSIS: &str = "…";

/// `message` on one line: its lines trimmed, empty ones dropped, joined with ` | `
/// (tool output, SDK error chains and the command line's usage text come in several lines).
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Serialises `report` compactly, shortening the error message so that the JSON is
/// strictly shorter than [`MAX_REPORT_BYTES`].
pub fn encode(report: &RunnerReport) -> String {
    let json = to_json(report);
    if json.len() < MAX_REPORT_BYTES {
        return json;
    }
    let mut report = report.clone();
    if let Some(error) = report.error.as_mut() {
        let others = json.len() - escaped_len(&error.message);
        let budget = (MAX_REPORT_BYTES - 1).saturating_sub(others + ELLIPSIS.len());
        error.message = shorten(&error.message, budget);
    }
    to_json(&report)
}

fn to_json(report: &RunnerReport) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| {
        format!(r#"{{"outcome":"failed","error":{{"kind":"runtime","reason":"Internal","message":"report not serialisable: {e}"}}}}"#)
    })
}

/// Length of `s` as a JSON string body (escapes included, quotes excluded).
fn escaped_len(s: &str) -> usize {
    serde_json::to_string(s)
        .map(|j| j.len() - 2)
        .unwrap_or(s.len() * 6)
}

/// The longest prefix of `message` whose JSON form fits `budget` bytes, marked as cut.
fn shorten(message: &str, budget: usize) -> String {
    let mut used = 0;
    let mut end = 0;
    let mut buf = [0u8; 4];
    for (i, c) in message.char_indices() {
        used += escaped_len(c.encode_utf8(&mut buf));
        if used > budget {
            break;
        }
        end = i + c.len_utf8();
    }
    format!("{}{ELLIPSIS}", &message[..end])
}

/// Where the report goes besides stdout.
#[derive(Debug)]
pub struct ReportSink {
    path: PathBuf,
    explicit: bool,
}

impl ReportSink {
    /// Resolves the termination-message path. An explicitly configured path must be
    /// writable (checked now, before any work); the default path may be absent.
    pub fn prepare(configured: Option<PathBuf>) -> Result<Self> {
        match configured {
            Some(path) => {
                open(&path).map_err(|source| Error::Report {
                    path: path.clone(),
                    source,
                })?;
                Ok(Self {
                    path,
                    explicit: true,
                })
            }
            None => Ok(Self::default_path()),
        }
    }

    /// The default termination-message path, whose failures only warn.
    pub fn default_path() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_TERMINATION_LOG),
            explicit: false,
        }
    }

    /// Writes the report line to the termination-message file and to stdout.
    /// Fails only when an explicitly configured file cannot be written.
    pub fn write(&self, report: &RunnerReport) -> Result<()> {
        let line = encode(report);
        let file_result = open(&self.path).and_then(|mut f| f.write_all(line.as_bytes()));
        let mut stdout = std::io::stdout().lock();
        // stdout failures (closed pipe) cannot be reported anywhere better.
        let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        match file_result {
            Ok(()) => Ok(()),
            Err(source) if self.explicit => Err(Error::Report {
                path: self.path.clone(),
                source,
            }),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e,
                    "termination-message file not writable; the report is on stdout only");
                Ok(())
            }
        }
    }
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tidemark_crd::contract::result::{ErrorKind, Outcome, ReportedError, RunnerCommand};

    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            one_line("pg_restore failed:\n  error: x\n\n  detail: y\n"),
            "pg_restore failed: | error: x | detail: y"
        );
        assert_eq!(one_line("plain"), "plain");
    }

    fn failed(message: String) -> RunnerReport {
        let mut report = RunnerReport::new(RunnerCommand::Backup, Utc::now(), "0.1.0");
        report.outcome = Outcome::Failed;
        report.error = Some(ReportedError {
            kind: ErrorKind::Runtime,
            reason: "PgDumpFailed".into(),
            message,
        });
        report
    }

    #[test]
    fn long_messages_are_truncated_below_four_kib() {
        for message in [
            "x".repeat(10_000),
            "é\"\\\n".repeat(3_000),
            "ü".repeat(4_090),
        ] {
            let json = encode(&failed(message));
            assert!(json.len() < MAX_REPORT_BYTES, "{} bytes", json.len());
            let back: RunnerReport = serde_json::from_str(&json).unwrap();
            let m = back.error.unwrap().message;
            assert!(
                m.ends_with(ELLIPSIS),
                "{} {:?}",
                m.len(),
                m.chars().rev().take(5).collect::<String>()
            );
        }
    }

    #[test]
    fn short_reports_are_unchanged_and_single_line() {
        let report = failed("pg_dump exited with status 1".into());
        let json = encode(&report);
        assert!(!json.contains('\n'));
        let back: RunnerReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn explicit_unwritable_path_is_an_error_but_default_is_not() {
        assert!(ReportSink::prepare(Some("/nonexistent-dir/x".into())).is_err());
        assert!(ReportSink::prepare(None).is_ok());
    }
}
