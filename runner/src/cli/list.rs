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
    /// The selection is for a restore of every database of a run
    /// (`TIDEMARK_RESTORE_ALL_DATABASES`): select the chosen run's newest backup, never
    /// refusing a run of several databases as ambiguous.
    #[arg(
        long,
        env = var::RESTORE_ALL_DATABASES,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub all_databases: bool,
}

/// How `list` prints the inventory on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListOutput {
    Table,
    Json,
}
