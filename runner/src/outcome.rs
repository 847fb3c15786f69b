//! What a subcommand hands back to [`crate::execute`]: a payload for the report, or an
//! error that may still carry a payload (a failed verification lists its checks, a
//! restore with mismatching row counts lists the tables).

use tidemark_crd::contract::result::{
    AllDatabasesRestore, BackupResult, ListResult, PreflightResult, PruneResult, RestoreResult,
    RunnerReport, VerifyResult,
};

use crate::error::Error;

/// The result section of a report, one variant per subcommand.
#[derive(Debug, Clone)]
pub enum Payload {
    Backup(BackupResult),
    Restore(RestoreResult),
    /// `restore` of every database of a run.
    RestoreAll(AllDatabasesRestore),
    RestoreTest(RestoreResult),
    Verify(VerifyResult),
    Prune(PruneResult),
    List(ListResult),
    Preflight(PreflightResult),
}

impl Payload {
    /// Puts the payload into its field of `report`.
    pub fn fill(self, report: &mut RunnerReport) {
        match self {
            Payload::Backup(r) => report.backup = Some(r),
            Payload::Restore(r) => report.restore = Some(r),
            Payload::RestoreAll(r) => report.restore_all = Some(r),
            Payload::RestoreTest(r) => report.restore_test = Some(r),
            Payload::Verify(r) => report.verify = Some(r),
            Payload::Prune(r) => report.prune = Some(r),
            Payload::List(r) => report.list = Some(r),
            Payload::Preflight(r) => report.preflight = Some(r),
        }
    }
}

/// A failed run: the error, and whatever result the run produced before failing.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub partial: Option<Payload>,
}

impl Failure {
    /// A failure that still reports `partial`.
    pub fn with(error: Error, partial: Payload) -> Self {
        Self {
            error,
            partial: Some(partial),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            partial: None,
        }
    }
}

/// What every subcommand returns.
pub type Outcome = std::result::Result<Payload, Failure>;
