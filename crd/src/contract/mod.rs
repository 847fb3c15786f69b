//! The runner ↔ operator contract: the environment a runner Job gets and the values
//! its enums take there, the manifest object stored beside every backup, the object
//! key layout, and the result JSON each runner subcommand writes to the
//! termination-message file. Shared by both binaries so they can never drift.

pub mod env;
pub mod keys;
pub mod manifest;
pub mod result;
pub mod values;
