//! The `BackupPolicy` custom resource.

pub mod databases;
pub mod options;
pub mod spec;
pub mod status;

pub use databases::DatabaseSelection;
pub use options::*;
pub use spec::{BackupPolicy, BackupPolicySpec};
pub use status::*;
