//! Payload of a `restore --preflight` report: what the target database holds, checked
//! before anything is stopped or touched. The operator decides from it whether a full
//! restore without `mode.clean: true` may go ahead. For a data-only restore the runner
//! itself fails the preflight with reason `TargetTablesMissing` (this payload still
//! reported) when the target lacks a table the restore writes.

use serde::{Deserialize, Serialize};

/// The target database as the preflight found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightResult {
    /// Name of the target database.
    pub database: String,
    /// Whether the database exists (a missing one is created when
    /// `target.createDatabase` is set).
    pub exists: bool,
    /// User tables in the database (outside the system schemas).
    pub user_tables: i64,
    /// User objects of any kind: relations, schemas other than `public`, extensions
    /// other than `plpgsql`.
    pub user_objects: i64,
}

impl PreflightResult {
    /// Whether a restore that drops nothing can go into this database.
    pub fn is_empty(&self) -> bool {
        !self.exists || self.user_objects == 0
    }
}
