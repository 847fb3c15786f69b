//! The RestoreRequest controller: pure deciding (observed → decide → step) apart from
//! the I/O that reads the cluster and carries steps out.

pub mod all_databases;
pub mod controller;
pub mod decide;
pub mod events;
pub mod fields;
pub mod finalizer;
pub mod io;
pub mod jobs;
pub mod observed;
pub mod preflight;
pub mod progress;
pub mod reconcile;
mod resolve;
mod restoring;
pub mod select;
pub mod source;
pub mod step;
mod track;
mod verifying;
mod writers;
