//! Building the Jobs the operator launches (pure: objects in, objects out).

pub mod builder;
pub mod env;
pub mod policy;
pub mod volumes;
