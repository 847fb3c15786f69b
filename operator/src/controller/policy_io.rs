//! The I/O steps of the BackupPolicy reconcile: read the policy's Jobs and their pods,
//! create Jobs, write the status with server-side apply.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::BackupPolicyStatus;

use super::error::Error;
use crate::context::CONTROLLER_NAME;
use crate::jobs::builder::labels;
use crate::policy::observed::{ObservedJob, observe};

/// Label selector of a policy's Jobs (and, through the pod template, their pods).
pub fn selector(policy_name: &str) -> String {
    format!(
        "{}={policy_name},{}={CONTROLLER_NAME}",
        labels::POLICY,
        labels::MANAGED_BY
    )
}

fn owned_by(job: &Job, uid: &str) -> bool {
    job.owner_references()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

fn job_of_pod(pod: &Pod) -> Option<String> {
    pod.owner_references()
        .iter()
        .find(|o| o.kind == "Job" && o.controller == Some(true))
        .map(|o| o.name.clone())
        .or_else(|| pod.labels().get("batch.kubernetes.io/job-name").cloned())
        .or_else(|| pod.labels().get("job-name").cloned())
}

/// The policy's Jobs as plain data. Pods are listed only when some Job is running or
/// finished without its result recorded yet (reports and pod problems live there).
pub async fn read_jobs(
    client: &kube::Client,
    policy: &BackupPolicy,
    recorded: &[String],
) -> Result<Vec<ObservedJob>, Error> {
    let ns = policy.namespace().ok_or(Error::Unnamed)?;
    let name = policy.name_any();
    let uid = policy.uid().unwrap_or_default();
    let params = ListParams::default().labels(&selector(&name));
    let jobs: Vec<Job> = Api::<Job>::namespaced(client.clone(), &ns)
        .list(&params)
        .await
        .map_err(|e| Error::ListJobs(format!("{ns}/{name}"), e))?
        .items
        .into_iter()
        .filter(|j| owned_by(j, &uid))
        .collect();
    let bare: Vec<ObservedJob> = jobs.iter().map(|j| observe(j, &[])).collect();
    let recorded: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    let need_pods = bare
        .iter()
        .any(|j| !j.state.is_finished() || !recorded.contains(j.name.as_str()));
    if !need_pods {
        return Ok(bare);
    }
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&params)
        .await
        .map_err(|e| Error::ListPods(format!("{ns}/{name}"), e))?
        .items;
    let mut by_job: HashMap<String, Vec<Pod>> = HashMap::new();
    for pod in pods {
        if let Some(job) = job_of_pod(&pod) {
            by_job.entry(job).or_default().push(pod);
        }
    }
    Ok(jobs
        .iter()
        .map(|j| {
            let pods = by_job
                .get(j.metadata.name.as_deref().unwrap_or_default())
                .map(Vec::as_slice)
                .unwrap_or_default();
            observe(j, pods)
        })
        .collect())
}

/// Whether a Job was created now or existed already (same deterministic name: created
/// earlier, by this or another replica).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    Existed,
}

/// Creates `job`; `AlreadyExists` is success.
pub async fn create_job(client: &kube::Client, job: &Job) -> Result<Created, Error> {
    let ns = job.meta().namespace.clone().unwrap_or_default();
    let name = job.name_any();
    match Api::<Job>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), job)
        .await
    {
        Ok(_) => Ok(Created::New),
        Err(kube::Error::Api(s)) if s.code == 409 || s.reason == "AlreadyExists" => {
            Ok(Created::Existed)
        }
        Err(e) => Err(Error::CreateJob(format!("{ns}/{name}"), e)),
    }
}

/// The apply body of a status: lists that became empty are sent as `[]` so that a
/// merge-style apply clears them too.
pub fn status_body(status: &BackupPolicyStatus) -> Result<serde_json::Value, serde_json::Error> {
    let mut value = serde_json::to_value(status)?;
    if let Some(map) = value.as_object_mut() {
        for field in ["active", "backups"] {
            map.entry(field)
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        }
    }
    Ok(serde_json::json!({
        "apiVersion": "tidemark.dev/v1alpha1",
        "kind": "BackupPolicy",
        "status": value,
    }))
}

/// Writes the status subresource with server-side apply (field manager
/// `tidemark-operator`, forced).
pub async fn write_status(
    client: &kube::Client,
    policy: &BackupPolicy,
    status: &BackupPolicyStatus,
) -> Result<(), Error> {
    let ns = policy.namespace().ok_or(Error::Unnamed)?;
    let name = policy.name_any();
    let body = status_body(status).map_err(|e| Error::SerializeStatus(name.clone(), e))?;
    Api::<BackupPolicy>::namespaced(client.clone(), &ns)
        .patch_status(
            &name,
            &PatchParams::apply(CONTROLLER_NAME).force(),
            &Patch::Apply(&body),
        )
        .await
        .map_err(|e| Error::WriteStatus(format!("{ns}/{name}"), e))?;
    Ok(())
}
