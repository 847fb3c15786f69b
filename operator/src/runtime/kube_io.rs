//! API I/O that both controllers do the same way: listing an owner's Jobs and their
//! pods, creating a Job idempotently, writing a status subresource with server-side
//! apply. Errors are plain `kube::Error`s; each controller wraps them with its context.

use std::collections::HashMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::context::CONTROLLER_NAME;
use crate::runtime::observed::{ObservedJob, observe};

/// `namespace/name` of an object, for error messages.
pub fn path_of(obj: &impl ResourceExt) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.name_any()
    )
}

/// The Jobs in `ns` matching `params` whose controller owner has `uid`.
pub async fn list_owned_jobs(
    client: &kube::Client,
    ns: &str,
    params: &ListParams,
    uid: &str,
) -> Result<Vec<Job>, kube::Error> {
    Ok(Api::<Job>::namespaced(client.clone(), ns)
        .list(params)
        .await?
        .items
        .into_iter()
        .filter(|j| owned_by(j, uid))
        .collect())
}

/// Whether `uid` is the controller owner of `obj`.
pub fn owned_by(obj: &impl ResourceExt, uid: &str) -> bool {
    obj.owner_references()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// The pods in `ns` matching `params`.
pub async fn list_pods(
    client: &kube::Client,
    ns: &str,
    params: &ListParams,
) -> Result<Vec<Pod>, kube::Error> {
    Ok(Api::<Pod>::namespaced(client.clone(), ns)
        .list(params)
        .await?
        .items)
}

/// The name of the Job a pod belongs to: its controller owner, else the Job-name labels.
fn job_of_pod(pod: &Pod) -> Option<String> {
    pod.owner_references()
        .iter()
        .find(|o| o.kind == "Job" && o.controller == Some(true))
        .map(|o| o.name.clone())
        .or_else(|| pod.labels().get("batch.kubernetes.io/job-name").cloned())
        .or_else(|| pod.labels().get("job-name").cloned())
}

/// Each Job as plain data together with its own pods (pods of other Jobs are ignored).
pub fn observe_with_pods(jobs: &[Job], pods: Vec<Pod>) -> Vec<ObservedJob> {
    let mut by_job: HashMap<String, Vec<Pod>> = HashMap::new();
    for pod in pods {
        if let Some(job) = job_of_pod(&pod) {
            by_job.entry(job).or_default().push(pod);
        }
    }
    jobs.iter()
        .map(|j| {
            let pods = by_job
                .get(j.metadata.name.as_deref().unwrap_or_default())
                .map(Vec::as_slice)
                .unwrap_or_default();
            observe(j, pods)
        })
        .collect()
}

/// Whether a Job was created now or existed already (same deterministic name: created
/// earlier, by this or another replica).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    Existed,
}

/// Creates `job` in its namespace; `AlreadyExists` (409) is success.
pub async fn create_job(client: &kube::Client, job: &Job) -> Result<Created, kube::Error> {
    let ns = job.meta().namespace.clone().unwrap_or_default();
    match Api::<Job>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), job)
        .await
    {
        Ok(_) => Ok(Created::New),
        Err(kube::Error::Api(s)) if s.code == 409 || s.reason == "AlreadyExists" => {
            Ok(Created::Existed)
        }
        Err(e) => Err(e),
    }
}

/// The server-side apply body of a `K` status.
pub fn status_apply_body<K: Resource<DynamicType = ()>>(
    status: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    })
}

/// Writes the status subresource of `K` `ns/name` with server-side apply (field manager
/// `tidemark-operator`, forced); returns the object as stored.
pub async fn apply_status<K>(
    client: &kube::Client,
    ns: &str,
    name: &str,
    body: &serde_json::Value,
) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), ns)
        .patch_status(
            name,
            &PatchParams::apply(CONTROLLER_NAME).force(),
            &Patch::Apply(body),
        )
        .await
}
