//! The Tidemark operator binary.

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Tidemark: declarative, verified logical PostgreSQL backups to S3.
#[derive(Parser)]
#[command(name = "tidemark-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML (`... crd | kubectl apply -f -`).
    Crd,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            for (_, crd) in tidemark_crd::crdgen::crds() {
                let yaml = tidemark_crd::crdgen::render(&crd).context("rendering CRD YAML")?;
                println!("---\n{yaml}");
            }
        }
    }
    Ok(())
}
