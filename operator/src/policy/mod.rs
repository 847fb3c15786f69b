//! The BackupPolicy controller's pure steps.

pub mod conditions;
pub mod decide;
pub mod effective;
pub mod inventory;
pub mod on_demand;
pub mod results;
pub mod status;
pub mod validate;
