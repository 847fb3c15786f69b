//! tidemark-runner: the data path of Tidemark. The binary (`main.rs`) parses the
//! command line and calls [`execute`]; everything else lives in one module per concept.

pub mod backup;
pub mod cli;
pub mod error;
pub mod logging;
pub mod pg;
pub mod pipeline;
pub mod report;
pub mod retention;
pub mod s3;
pub mod signals;
pub mod size;

use chrono::Utc;
use tidemark_crd::contract::result::{
    ErrorKind, Outcome, ReportedError, RunnerCommand, RunnerReport, exit_code,
};

use crate::backup::manifest::RUNNER_VERSION;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::report::ReportSink;
use crate::signals::Shutdown;

/// Runs the parsed command, writes the report, returns the process exit code.
pub async fn execute(cli: Cli) -> i32 {
    let started_at = Utc::now();
    let command = match &cli.command {
        Command::Backup(_) => RunnerCommand::Backup,
    };
    let sink = ReportSink::prepare(cli.termination_log.clone());
    let outcome = match &sink {
        Err(e) => Err(Error::config(e.to_string())),
        Ok(_) => match Shutdown::install() {
            Err(e) => Err(e),
            Ok(shutdown) => match &cli.command {
                Command::Backup(args) => backup::run(args, &shutdown).await.map(Some),
            },
        },
    };
    let mut report = RunnerReport {
        command,
        outcome: Outcome::Succeeded,
        started_at,
        finished_at: Utc::now(),
        runner_version: RUNNER_VERSION.to_string(),
        error: None,
        backup: None,
    };
    let mut code = exit_code::SUCCESS;
    match outcome {
        Ok(backup) => report.backup = backup,
        Err(e) => {
            tracing::error!(reason = e.reason(), error = %e, "{command:?} failed");
            code = e.kind().exit_code();
            report.outcome = Outcome::Failed;
            report.error = Some(ReportedError {
                kind: e.kind(),
                reason: e.reason().to_string(),
                message: e.to_string(),
            });
        }
    }
    let sink = sink.unwrap_or_else(|_| ReportSink::default_path());
    if let Err(e) = sink.write(&report) {
        tracing::error!(error = %e, "writing the report failed");
        if code == exit_code::SUCCESS {
            code = ErrorKind::Runtime.exit_code();
        }
    }
    code
}

/// Writes a report for a command line that could not be parsed (exit code 2).
pub fn report_usage_error(message: &str) -> i32 {
    let command = std::env::args()
        .nth(1)
        .and_then(|a| match a.as_str() {
            "restore" => Some(RunnerCommand::Restore),
            "verify" => Some(RunnerCommand::Verify),
            "restore-test" => Some(RunnerCommand::RestoreTest),
            "prune" => Some(RunnerCommand::Prune),
            "list" => Some(RunnerCommand::List),
            _ => None,
        })
        .unwrap_or(RunnerCommand::Backup);
    let now = Utc::now();
    let report = RunnerReport {
        command,
        outcome: Outcome::Failed,
        started_at: now,
        finished_at: now,
        runner_version: RUNNER_VERSION.to_string(),
        error: Some(ReportedError {
            kind: ErrorKind::Config,
            reason: "InvalidArguments".into(),
            message: message.trim().to_string(),
        }),
        backup: None,
    };
    let path = std::env::var_os("TIDEMARK_TERMINATION_LOG").map(Into::into);
    let sink = ReportSink::prepare(path).unwrap_or_else(|_| ReportSink::default_path());
    let _ = sink.write(&report);
    exit_code::CONFIG
}
