//! The Tidemark operator: controllers for `BackupPolicy` and `RestoreRequest`.
//!
//! Reconciliation is split into pure steps (decide, build) and I/O steps (read, apply,
//! status), so that the deciding and building are unit-tested without an API server.

pub mod alerts;
pub mod cli;
pub mod context;
pub mod controller;
pub mod http;
pub mod jobs;
pub mod kube_io;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod naming;
pub mod policy;
pub mod restore;
pub mod run;
pub mod schedule;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
