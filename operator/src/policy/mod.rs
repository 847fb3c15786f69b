//! The BackupPolicy controller's pure steps.

pub mod decide;
pub mod observed;
