//! The one shape of every runner Job, shared by both controllers (pure: objects in,
//! objects out): the hardened pod and labels ([`builder`]), the operator-wide defaults
//! ([`defaults`]), the runner's environment from a spec ([`env`]) and its volumes
//! ([`volumes`]). Each controller builds its own kinds of Job on it.

pub mod builder;
pub mod defaults;
pub mod env;
pub mod spool;
pub mod volumes;

use kube::Resource;

use builder::JobOwner;
pub use defaults::{JobDefaults, PodDefaults};

/// Why a Job cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("the object has no uid or namespace yet (not read from the API server)")]
    NotPersisted,
    /// The policy does not configure this kind of run (e.g. no `spec.restoreTest`).
    #[error("{0} is not configured in the policy")]
    NotConfigured(&'static str),
}

/// The controller owner reference of `obj` with its owner `label` (e.g.
/// [`labels::POLICY`]), and `obj`'s namespace: where its Jobs go.
pub fn owner_of<K: Resource<DynamicType = ()>>(
    obj: &K,
    label: &'static str,
) -> Result<(JobOwner, String), BuildError> {
    let reference = obj
        .controller_owner_ref(&())
        .ok_or(BuildError::NotPersisted)?;
    let ns = obj
        .meta()
        .namespace
        .clone()
        .ok_or(BuildError::NotPersisted)?;
    Ok((JobOwner { reference, label }, ns))
}

/// The directory of a file path (where its volume is mounted).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(dir, _)| dir)
}
