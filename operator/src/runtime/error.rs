//! Errors of a reconcile, for both controllers: API calls that failed (the controller
//! retries them with backoff). Each carries what was being done; none carries a secret
//! (the operator never reads one).

/// A failed reconcile step; the controller retries it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the object has no namespace or name")]
    Unnamed,
    #[error("reading RestoreRequest {0}: {1}")]
    ReadRequest(String, #[source] kube::Error),
    #[error("reading BackupPolicy {0}: {1}")]
    ReadPolicy(String, #[source] kube::Error),
    #[error("listing the Jobs of {0}: {1}")]
    ListJobs(String, #[source] kube::Error),
    #[error("listing the pods of {0}'s Jobs: {1}")]
    ListPods(String, #[source] kube::Error),
    #[error("reading writer {0}: {1}")]
    ReadWriter(String, #[source] kube::Error),
    #[error("creating Job {0}: {1}")]
    CreateJob(String, #[source] kube::Error),
    #[error("building Job {0}: {1}")]
    BuildJob(String, String),
    #[error("deleting Job {0}: {1}")]
    DeleteJob(String, #[source] kube::Error),
    #[error("scaling {0}: {1}")]
    Scale(String, #[source] kube::Error),
    #[error("writing the status of {0}: {1}")]
    WriteStatus(String, #[source] kube::Error),
    #[error("serializing the status of {0}: {1}")]
    SerializeStatus(String, #[source] serde_json::Error),
    #[error("updating the finalizers of {0}: {1}")]
    Finalizer(String, #[source] kube::Error),
}

impl Error {
    /// Short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unnamed => "unnamed",
            Error::ReadRequest(..) => "read_request",
            Error::ReadPolicy(..) => "read_policy",
            Error::ListJobs(..) => "list_jobs",
            Error::ListPods(..) => "list_pods",
            Error::ReadWriter(..) => "read_writer",
            Error::CreateJob(..) => "create_job",
            Error::BuildJob(..) => "build_job",
            Error::DeleteJob(..) => "delete_job",
            Error::Scale(..) => "scale",
            Error::WriteStatus(..) => "write_status",
            Error::SerializeStatus(..) => "serialize_status",
            Error::Finalizer(..) => "finalizer",
        }
    }
}
