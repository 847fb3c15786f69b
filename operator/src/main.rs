//! The Tidemark operator binary.

use anyhow::Context as _;
use clap::Parser;
use tidemark_operator::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
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
                tracing::error!(error = format!("{e:#}"), "operator stopped");
            }
            result
        }
    }
}
