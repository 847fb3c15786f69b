//! The `RestoreRequest` custom resource.

pub mod spec;
pub mod status;

pub use spec::*;
pub use status::*;
