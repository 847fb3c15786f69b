//! The I/O of the RestoreRequest reconcile: reading the request (fresh from the API
//! server, never a cached copy: its status is the controller's memory), its policy,
//! Jobs, pods and writers; carrying out a step's actions; writing the status with
//! server-side apply.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::core::Selector;
use kube::{Api, ResourceExt};
use tidemark_crd::restore_request::{RestoreRequestStatus, WorkloadKind};
use tidemark_crd::{BackupPolicy, RestoreRequest};

use super::observed::{Workload, WorkloadState};
use crate::context::CONTROLLER_NAME;
use crate::runtime::error::Error;
use crate::runtime::job::builder::labels;
use crate::runtime::kube_io;
use crate::runtime::observed::ObservedJob;

/// Label selector of a request's Jobs (and, through the pod template, their pods).
pub fn selector(request_name: &str) -> String {
    format!(
        "{}={request_name},{}={CONTROLLER_NAME}",
        labels::RESTORE_REQUEST,
        labels::MANAGED_BY
    )
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// The request as the API server has it now; `None` once deleted.
pub async fn read_request(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<RestoreRequest>, Error> {
    Api::<RestoreRequest>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| Error::ReadRequest(format!("{ns}/{name}"), e))
}

/// The BackupPolicy `name` in `ns`, if it exists.
pub async fn read_policy(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<BackupPolicy>, Error> {
    Api::<BackupPolicy>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| Error::ReadPolicy(format!("{ns}/{name}"), e))
}

/// The request's own Jobs (owned by its uid) with their pods, as plain data.
pub async fn read_jobs(
    client: &kube::Client,
    request: &RestoreRequest,
) -> Result<Vec<ObservedJob>, Error> {
    let ns = request.namespace().ok_or(Error::Unnamed)?;
    let name = request.name_any();
    let uid = request.uid().unwrap_or_default();
    let params = ListParams::default().labels(&selector(&name));
    let jobs = kube_io::list_owned_jobs(client, &ns, &params, &uid)
        .await
        .map_err(|e| Error::ListJobs(format!("{ns}/{name}"), e))?;
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let pods = kube_io::list_pods(client, &ns, &params)
        .await
        .map_err(|e| Error::ListPods(format!("{ns}/{name}"), e))?;
    Ok(kube_io::observe_with_pods(&jobs, pods))
}

/// How many pods match a workload's selector (running, pending or terminating).
async fn count_pods(
    client: &kube::Client,
    ns: &str,
    what: &str,
    selector: Option<&LabelSelector>,
) -> Result<u32, Error> {
    let Some(selector) = selector.cloned() else {
        return Ok(0);
    };
    // A selector that cannot be expressed matches nothing we could wait for.
    let Ok(selector) = Selector::try_from(selector) else {
        return Ok(0);
    };
    if selector.selects_all() {
        // An empty selector would match every pod of the namespace.
        return Ok(0);
    }
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list_metadata(&ListParams::default().labels_from(&selector))
        .await
        .map_err(|e| Error::ReadWriter(format!("{what} pods"), e))?;
    Ok(u32::try_from(pods.items.len()).unwrap_or(u32::MAX))
}

/// One writer: its `spec.replicas` and how many of its pods exist.
pub async fn read_writer(
    client: &kube::Client,
    ns: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Workload, Error> {
    let what = format!("{kind:?} {ns}/{name}");
    let found = match kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await
            .map(|d| {
                d.map(|d| {
                    let spec = d.spec.unwrap_or_default();
                    (spec.replicas.unwrap_or(1), spec.selector)
                })
            }),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await
            .map(|s| {
                s.map(|s| {
                    let spec = s.spec.unwrap_or_default();
                    (spec.replicas.unwrap_or(1), spec.selector)
                })
            }),
    }
    .map_err(|e| Error::ReadWriter(what.clone(), e))?;
    let state = match found {
        None => WorkloadState::Missing,
        Some((replicas, selector)) => WorkloadState::Present {
            replicas,
            pods: count_pods(client, ns, &what, Some(&selector)).await?,
        },
    };
    Ok(Workload {
        kind,
        name: name.to_string(),
        state,
    })
}

/// Creates `job`; one that exists already (same deterministic name) counts as created.
pub async fn create_job(client: &kube::Client, job: &Job) -> Result<(), Error> {
    kube_io::create_job(client, job)
        .await
        .map(drop)
        .map_err(|e| Error::CreateJob(kube_io::path_of(job), e))
}

/// Deletes a Job and (in the foreground) its pods; one that is gone already is fine.
pub async fn delete_job(client: &kube::Client, ns: &str, name: &str) -> Result<(), Error> {
    match Api::<Job>::namespaced(client.clone(), ns)
        .delete(name, &DeleteParams::foreground())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(Error::DeleteJob(format!("{ns}/{name}"), e)),
    }
}

/// Sets `spec.replicas` with a merge patch (works with and without the `scale`
/// subresource).
pub async fn scale(
    client: &kube::Client,
    ns: &str,
    kind: WorkloadKind,
    name: &str,
    replicas: i32,
) -> Result<(), Error> {
    let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": replicas } }));
    let params = PatchParams::default();
    let result = match kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
            .patch(name, &params, &patch)
            .await
            .map(drop),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .patch(name, &params, &patch)
            .await
            .map(drop),
    };
    match result {
        Ok(()) => Ok(()),
        // Deleted meanwhile: the next decision sees it missing.
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(Error::Scale(format!("{kind:?} {ns}/{name}"), e)),
    }
}

/// The server-side apply body of a status.
pub fn status_body(status: &RestoreRequestStatus) -> Result<serde_json::Value, serde_json::Error> {
    Ok(kube_io::status_apply_body::<RestoreRequest>(
        serde_json::to_value(status)?,
    ))
}

/// Writes the status subresource with server-side apply (field manager
/// `tidemark-operator`, forced); returns the request as stored.
pub async fn write_status(
    client: &kube::Client,
    ns: &str,
    name: &str,
    status: &RestoreRequestStatus,
) -> Result<RestoreRequest, Error> {
    let body = status_body(status).map_err(|e| Error::SerializeStatus(name.to_string(), e))?;
    kube_io::apply_status::<RestoreRequest>(client, ns, name, &body)
        .await
        .map_err(|e| Error::WriteStatus(format!("{ns}/{name}"), e))
}
