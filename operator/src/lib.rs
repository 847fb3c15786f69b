//! The Tidemark operator: controllers for `BackupPolicy` and `RestoreRequest`.
//!
//! Reconciliation is split into pure steps (decide, build) and I/O steps (read, apply,
//! status), so that the deciding and building are unit-tested without an API server.

pub mod alerts;
pub mod backup_policy;
pub mod cli;
pub mod context;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod naming;
pub mod restore_request;
pub mod run;
pub mod runtime;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
