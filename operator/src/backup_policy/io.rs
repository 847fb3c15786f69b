//! The I/O steps of the BackupPolicy reconcile: read the policy's Jobs and their pods
//! (from the watch caches, or the API), create Jobs, write the status with server-side apply.

use std::collections::HashSet;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::ListParams;
use tidemark_crd::BackupPolicy;
use tidemark_crd::backup_policy::BackupPolicyStatus;

use crate::context::CONTROLLER_NAME;
use crate::runtime::error::Error;
use crate::runtime::job::builder::labels;
use crate::runtime::job_cache::JobCache;
use crate::runtime::kube_io;
pub use crate::runtime::kube_io::Created;
use crate::runtime::observed::{JobState, ObservedJob, observe};

/// Label selector of a policy's Jobs (and, through the pod template, their pods).
pub fn selector(policy_name: &str) -> String {
    format!(
        "{}={policy_name},{}={CONTROLLER_NAME}",
        labels::POLICY,
        labels::MANAGED_BY
    )
}

/// The policy's Jobs as plain data, from the watch caches when `cache` has the policy's
/// namespace (and has its first list), otherwise from the API.
///
/// Pods come from the API only when needed: from the caches, when a finished Job whose
/// result is not recorded yet shows no runner end (the Job and pod watches are not
/// ordered), so a result is never recorded without the report; from the API, when some
/// Job is running or finished without its result recorded (reports and pod problems
/// live there).
pub async fn read_jobs(
    client: &kube::Client,
    cache: Option<&JobCache>,
    policy: &BackupPolicy,
    recorded: &[String],
) -> Result<Vec<ObservedJob>, Error> {
    let ns = policy.namespace().ok_or(Error::Unnamed)?;
    let name = policy.name_any();
    let uid = policy.uid().unwrap_or_default();
    let recorded: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    let unrecorded = |j: &ObservedJob| !recorded.contains(j.name.as_str());
    let jobs = match cache.and_then(|c| c.scope_for(&ns)) {
        Some(scope) if scope.ready().await => {
            let jobs: Vec<Job> = scope
                .jobs
                .of(&ns, &name)
                .into_iter()
                .filter(|j| kube_io::owned_by(j.as_ref(), &uid))
                .map(|j| (*j).clone())
                .collect();
            let pods = scope
                .pods
                .of(&ns, &name)
                .iter()
                .map(|p| (**p).clone())
                .collect();
            let observed = kube_io::observe_with_pods(&jobs, pods);
            if !observed
                .iter()
                .any(|j| unrecorded(j) && end_unseen(&j.state))
            {
                return Ok(observed);
            }
            jobs
        }
        _ => {
            let params = ListParams::default().labels(&selector(&name));
            let jobs = kube_io::list_owned_jobs(client, &ns, &params, &uid)
                .await
                .map_err(|e| Error::ListJobs(format!("{ns}/{name}"), e))?;
            let bare: Vec<ObservedJob> = jobs.iter().map(|j| observe(j, &[])).collect();
            if !bare.iter().any(|j| !j.state.is_finished() || unrecorded(j)) {
                return Ok(bare);
            }
            jobs
        }
    };
    let params = ListParams::default().labels(&selector(&name));
    let pods = kube_io::list_pods(client, &ns, &params)
        .await
        .map_err(|e| Error::ListPods(format!("{ns}/{name}"), e))?;
    Ok(kube_io::observe_with_pods(&jobs, pods))
}

/// A finished Job without any sign of its runner's end (no report, no exit code).
fn end_unseen(state: &JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded(None)
            | JobState::Failed {
                report: None,
                exit_code: None,
                ..
            }
    )
}

/// Creates `job`; `AlreadyExists` is success.
pub async fn create_job(client: &kube::Client, job: &Job) -> Result<Created, Error> {
    kube_io::create_job(client, job)
        .await
        .map_err(|e| Error::CreateJob(kube_io::path_of(job), e))
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
    Ok(kube_io::status_apply_body::<BackupPolicy>(value))
}

/// Writes the status subresource with server-side apply (field manager
/// `tidemark-operator`, forced); returns the policy as stored.
pub async fn write_status(
    client: &kube::Client,
    policy: &BackupPolicy,
    status: &BackupPolicyStatus,
) -> Result<BackupPolicy, Error> {
    let ns = policy.namespace().ok_or(Error::Unnamed)?;
    let name = policy.name_any();
    let body = status_body(status).map_err(|e| Error::SerializeStatus(name.clone(), e))?;
    kube_io::apply_status::<BackupPolicy>(client, &ns, &name, &body)
        .await
        .map_err(|e| Error::WriteStatus(format!("{ns}/{name}"), e))
}
