//! tidemark-runner: the data path of Tidemark. The binary (`main.rs`) parses the
//! command line and calls [`execute`]; everything else lives in one module per concept.

pub mod backup;
pub mod cli;
pub mod error;
pub mod inventory;
pub mod list;
pub mod logging;
pub mod outcome;
pub mod pg;
pub mod pipeline;
pub mod preflight_tables;
pub mod prune;
pub mod report;
pub mod restore;
pub mod restore_test;
pub mod retention;
pub mod s3;
pub mod signals;
pub mod verify;

use chrono::Utc;
use tidemark_crd::contract::env as var;
use tidemark_crd::contract::result::{
    ErrorKind, Outcome, ReportedError, RunnerCommand, RunnerReport, exit_code,
};

use crate::backup::manifest::RUNNER_VERSION;
use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::outcome::Failure;
use crate::report::ReportSink;
use crate::signals::Shutdown;

/// Runs the parsed command, writes the report, returns the process exit code.
pub async fn execute(cli: Cli) -> i32 {
    let started_at = Utc::now();
    let mut report = RunnerReport::new(cli.command.report_name(), started_at, RUNNER_VERSION);
    let sink = ReportSink::prepare(cli.termination_log.clone());
    let outcome: outcome::Outcome = match &sink {
        Err(e) => Err(Error::config(e.to_string()).into()),
        Ok(_) => match Shutdown::install() {
            Err(e) => Err(e.into()),
            Ok(shutdown) => dispatch(&cli.command, &shutdown).await,
        },
    };
    report.finished_at = Utc::now();
    let mut code = exit_code::SUCCESS;
    match outcome {
        Ok(payload) => payload.fill(&mut report),
        Err(Failure { error, partial }) => {
            let command = report.command;
            let message = report::one_line(&error.to_string());
            tracing::error!(reason = error.reason(), error = %message, "{command:?} failed");
            code = error.kind().exit_code();
            report.outcome = Outcome::Failed;
            report.error = Some(ReportedError {
                kind: error.kind(),
                reason: error.reason().to_string(),
                message,
            });
            if let Some(payload) = partial {
                payload.fill(&mut report);
            }
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

/// Builds the subcommand's settings and runs it. Each returns its payload, or a
/// [`Failure`] that may carry one.
async fn dispatch(command: &Command, shutdown: &Shutdown) -> outcome::Outcome {
    match command {
        Command::Backup(args) => backup::run::run(&args.settings()?, shutdown).await,
        Command::Verify(args) => verify::run(&args.settings()?, shutdown).await,
        Command::Prune(args) => prune::run(&args.settings()?, shutdown).await,
        Command::List(args) => list::run(&args.settings()?).await,
        Command::Restore(args) => {
            let settings = args.settings()?;
            if settings.preflight {
                preflight_tables::run(&settings, shutdown).await
            } else {
                restore::run(&settings, shutdown).await
            }
        }
        Command::RestoreTest(args) => restore_test::run(&args.settings()?, shutdown).await,
    }
}

/// Writes a report for a command line that could not be parsed (exit code 2).
pub fn report_usage_error(message: &str) -> i32 {
    let command = std::env::args()
        .nth(1)
        .and_then(|a| Command::report_name_of(&a))
        .unwrap_or(RunnerCommand::Backup);
    let mut report = RunnerReport::new(command, Utc::now(), RUNNER_VERSION);
    report.outcome = Outcome::Failed;
    report.error = Some(ReportedError {
        kind: ErrorKind::Config,
        reason: "InvalidArguments".into(),
        // clap's usage lines and help hint are for a terminal, not for the report.
        message: report::one_line(
            &message
                .lines()
                .filter(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    });
    let path = std::env::var_os(var::TERMINATION_LOG).map(Into::into);
    let sink = ReportSink::prepare(path).unwrap_or_else(|_| ReportSink::default_path());
    let _ = sink.write(&report);
    exit_code::CONFIG
}
