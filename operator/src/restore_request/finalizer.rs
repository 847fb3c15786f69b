//! The `tidemark.dev/restart-writers` finalizer: an unfinished request cannot disappear
//! while its writers are scaled to zero. Deleting one stops its running Job (an
//! unfinished restore rolls back, so the database is unchanged), restarts the writers
//! through the normal failure path, and only then lets the request go. Finished requests
//! carry no finalizer: deleting them changes nothing.
//!
//! Changing the list: [`crate::runtime::finalizer`].

use tidemark_crd::RestoreRequest;

use crate::runtime::error::Error;
use crate::runtime::finalizer;

/// Our finalizer.
pub const FINALIZER: &str = "tidemark.dev/restart-writers";

/// What to do with the finalizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Add,
    Remove,
    Keep,
}

/// Whether the request carries our finalizer.
pub fn has(request: &RestoreRequest) -> bool {
    finalizer::has(request, FINALIZER)
}

/// The change a request needs (pure): finished → none; unfinished and alive → ours.
pub fn change(request: &RestoreRequest, finished: bool) -> Change {
    let deleting = request.metadata.deletion_timestamp.is_some();
    match (has(request), finished, deleting) {
        (true, true, _) => Change::Remove,
        (false, false, false) => Change::Add,
        _ => Change::Keep,
    }
}

/// Adds our finalizer; returns the request as stored (`None`: it is gone).
pub async fn add(
    client: &kube::Client,
    request: &RestoreRequest,
) -> Result<Option<RestoreRequest>, Error> {
    finalizer::set(client, request, FINALIZER, true).await
}

/// Removes our finalizer (pass the newest copy of the request: its `resourceVersion`
/// guards the patch); a request already gone is fine.
pub async fn remove(client: &kube::Client, request: &RestoreRequest) -> Result<(), Error> {
    finalizer::set(client, request, FINALIZER, false)
        .await
        .map(drop)
}
