//! The BackupPolicy controller: its pure steps (validate → decide → build Jobs →
//! status, conditions, events) apart from its I/O (the watches in [`controller`], the
//! reconcile in [`reconcile`], API reads and writes in [`io`]).

pub mod conditions;
pub mod controller;
pub mod decide;
pub mod effective;
pub mod events;
pub mod finalizer;
pub mod inventory;
pub mod io;
pub mod jobs;
pub mod on_demand;
pub mod reconcile;
pub mod results;
pub mod schedule;
pub mod spread;
pub mod status;
pub mod validate;
pub mod written_status;
