//! The `BackupPolicy` custom resource.

pub mod options;
pub mod spec;
pub mod status;

pub use options::*;
pub use spec::{BackupPolicy, BackupPolicySpec};
pub use status::*;
