//! The Tidemark operator binary.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use tidemark_operator::cli::{Cli, Command};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Logged once (run's own failure is already in the log), not printed again.
            if !e.is::<Logged>() {
                eprintln!("error: {}", tidemark_operator::logging::error_chain(&e));
            }
            ExitCode::FAILURE
        }
    }
}

/// An error that was already written to the log.
#[derive(Debug, thiserror::Error)]
#[error("the operator stopped (see the log)")]
struct Logged;

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            for (_, crd) in tidemark_crd::crdgen::crds() {
                let yaml = tidemark_crd::crdgen::render(&crd).context("rendering CRD YAML")?;
                println!("---\n{yaml}");
            }
            Ok(())
        }
        Command::Run(args) => {
            tidemark_operator::logging::init(args.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let result = runtime.block_on(tidemark_operator::run::run(args));
            if let Err(e) = &result {
                let error = tidemark_operator::logging::error_chain(e);
                tracing::error!(error, "operator stopped");
                return Err(Logged.into());
            }
            result
        }
    }
}
