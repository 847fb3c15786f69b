//! Settings of `prune`.

use clap::Args;
use tidemark_crd::contract::env as var;

use super::{PolicyArgs, RetentionArgs, S3Args};
use tidemark_crd::units::HumanDuration;

/// Settings of `prune`: the retention policy, the grace period for leftovers, and the
/// modes (`--dry-run`, `--all`).
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub retention: RetentionArgs,

    /// Objects without a manifest and multipart uploads are removed once older than
    /// this; it must exceed the longest backup run.
    #[arg(long, env = var::ORPHAN_GRACE_PERIOD, default_value = "24h")]
    pub orphan_grace_period: HumanDuration,
    /// Decide and report, delete nothing.
    #[arg(
        long,
        env = var::DRY_RUN,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub dry_run: bool,
    /// Delete every object and abort every upload under the policy prefix, whatever
    /// retention says (the operator's `deletionPolicy: Delete`).
    #[arg(
        long,
        env = var::PRUNE_ALL,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub all: bool,
}
