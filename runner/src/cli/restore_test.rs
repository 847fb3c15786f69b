//! Settings of `restore-test`. The scratch server is the libpq target (`PG*`).

use clap::Args;
use tidemark_crd::contract::env as var;
use tidemark_crd::contract::values::ScratchTarget;

use super::{DbArgs, PolicyArgs, S3Args, SelectorArgs};
use tidemark_crd::units::HumanDuration;

/// Settings of `restore-test`: which backup, and the scratch server.
#[derive(Debug, Args)]
pub struct RestoreTestArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The scratch server (`PGDATABASE` is only used to connect for CREATE DATABASE).
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub selector: SelectorArgs,

    /// `ephemeral`: a freshly started empty server next to the runner (a sidecar),
    /// waited for; `existing`: a configured server.
    #[arg(
        long,
        env = var::RESTORE_TEST_TARGET,
        value_enum,
        default_value = "existing"
    )]
    pub target: ScratchTarget,
    /// How long to wait for the server to accept connections (default: 120s for an
    /// ephemeral server, 0 for an existing one).
    #[arg(long, env = var::SCRATCH_WAIT)]
    pub wait_for_server: Option<HumanDuration>,
    /// Prefix of the temporary database's name (a random suffix follows); the database
    /// is dropped afterwards, also after a failure or a signal.
    #[arg(
        long,
        env = var::SCRATCH_DATABASE_PREFIX,
        default_value = "tidemark_restore_test_"
    )]
    pub scratch_database_prefix: String,
    /// With 2 or more, the restore test takes the parallel path of a full restore (a side
    /// database loaded by N connections while the backup downloads), so its measured
    /// duration is the one a parallel restore achieves; 1 is the single-transaction
    /// stream.
    #[arg(long, env = var::RESTORE_PARALLELISM, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallelism: u32,
    /// Directory of the parallel path's side archive (the backup's table of contents and
    /// large objects).
    #[arg(long, env = var::RESTORE_SPOOL_DIR, default_value = "/tmp")]
    pub spool_dir: std::path::PathBuf,
}
