//! Tidemark's API: the `BackupPolicy` and `RestoreRequest` custom resources
//! (group `tidemark.dev`, version `v1alpha1`), and the runner ↔ operator contract.

pub mod backup_policy;
pub mod common;
pub mod contract;
pub mod crddoc;
pub mod crdgen;
pub mod restore_request;
pub mod units;

pub use backup_policy::{BackupPolicy, BackupPolicySpec, BackupPolicyStatus};
pub use restore_request::{RestoreRequest, RestoreRequestSpec, RestoreRequestStatus};

/// API group of every Tidemark resource.
pub const GROUP: &str = "tidemark.dev";
/// API version of every Tidemark resource.
pub const VERSION: &str = "v1alpha1";
/// Prefix of every label and annotation Tidemark sets.
pub const LABEL_PREFIX: &str = "tidemark.dev/";
