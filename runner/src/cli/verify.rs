//! Settings of `verify`.

use clap::Args;
use tidemark_crd::contract::env as var;

use super::{PolicyArgs, S3Args, SelectorArgs};
use tidemark_crd::units::ByteSize;
use tidemark_crd::units::HumanDuration;

/// Settings of `verify`: which backup, and the thresholds of its checks.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub selector: SelectorArgs,

    /// Smallest acceptable stored object (e.g. `1Ki`, `10Mi`): catches empty dumps.
    #[arg(long, env = var::VERIFY_MIN_SIZE, default_value = "1Ki")]
    pub min_size: ByteSize,
    /// Oldest acceptable completion time, as an age (e.g. `26h`, `90m`).
    #[arg(long, env = var::VERIFY_MAX_AGE, default_value = "26h")]
    pub max_age: HumanDuration,
    /// The backup fails `NotShrunk` when smaller than (100 - this)% of the previous
    /// backup's stored size.
    #[arg(
        long,
        env = var::VERIFY_MAX_SHRINK_PERCENT,
        default_value_t = 50,
        value_parser = clap::value_parser!(u8).range(1..=99)
    )]
    pub max_shrink_percent: u8,
}
