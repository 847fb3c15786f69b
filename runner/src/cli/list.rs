//! Settings of `list`.

use clap::{Args, ValueEnum};
use tidemark_crd::contract::env as var;

use super::{PolicyArgs, RetentionArgs, S3Args, SelectorArgs};

/// Settings of `list`: the inventory, optionally the backup a selector picks and the
/// tiers retention would keep each backup by.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub selector: SelectorArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,

    /// `table` for a person, `json` for one JSON array of backups.
    #[arg(
        long,
        env = var::LIST_OUTPUT,
        value_enum,
        default_value = "table"
    )]
    pub output: ListOutput,
}

/// How `list` prints the inventory on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListOutput {
    Table,
    Json,
}
