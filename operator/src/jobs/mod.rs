//! Building the Jobs the operator launches (pure: objects in, objects out).

pub mod builder;
pub mod defaults;
pub mod env;
pub mod policy;
pub mod prune;
pub mod purge;
pub mod restore;
pub mod restore_test;
pub mod verify;
pub mod volumes;

pub use defaults::PodDefaults;
pub use policy::{BuildError, JobDefaults, Trigger, backup_job};
pub use prune::prune_job;
pub use purge::purge_job;
pub use restore_test::restore_test_job;
pub use verify::verify_job;
