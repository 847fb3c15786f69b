//! The RestoreRequest controller: pure deciding (observed → decide → step) apart from
//! the I/O that reads the cluster and carries steps out.

pub mod decide;
pub mod fields;
pub mod observed;
pub mod progress;
pub mod select;
pub mod source;
pub mod step;
