//! The `tidemark.dev/restart-writers` finalizer: an unfinished request cannot disappear
//! while its writers are scaled to zero. Deleting one stops its running Job (an
//! unfinished restore rolls back, so the database is unchanged), restarts the writers
//! through the normal failure path, and only then lets the request go. Finished requests
//! carry no finalizer: deleting them changes nothing.

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use tidemark_crd::RestoreRequest;

use super::error::Error;

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
    request.finalizers().iter().any(|f| f == FINALIZER)
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

/// Adds our finalizer with a merge patch carrying the object's `resourceVersion` (a
/// concurrent change fails it with 409 and the reconcile retries).
pub async fn add(client: &kube::Client, request: &RestoreRequest) -> Result<RestoreRequest, Error> {
    let ns = request.namespace().ok_or(Error::Unnamed)?;
    let name = request.name_any();
    let mut list: Vec<String> = request.finalizers().to_vec();
    list.push(FINALIZER.to_string());
    let patch = serde_json::json!({
        "metadata": {"finalizers": list, "resourceVersion": request.resource_version()}
    });
    Api::<RestoreRequest>::namespaced(client.clone(), &ns)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| Error::Finalizer(format!("{ns}/{name}"), e))
}

/// Removes our finalizer, like [`add`] (pass the newest copy of the request: its
/// `resourceVersion` guards the patch).
pub async fn remove(client: &kube::Client, request: &RestoreRequest) -> Result<(), Error> {
    let ns = request.namespace().ok_or(Error::Unnamed)?;
    let name = request.name_any();
    let list: Vec<&String> = request
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .collect();
    let patch = serde_json::json!({
        "metadata": {"finalizers": list, "resourceVersion": request.resource_version()}
    });
    match Api::<RestoreRequest>::namespaced(client.clone(), &ns)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::Finalizer(format!("{ns}/{name}"), e)),
    }
}
