//! Backups asked for outside the schedule: `spec.runNow` (a new value), the
//! `tidemark.dev/run-now` annotation (a new token, for GitOps tools that revert spec
//! drift), and `spec.immediate` (one backup as soon as the policy exists). Pure: which
//! of them are still pending, and the Job each one starts.

use tidemark_crd::backup_policy::{BackupPolicySpec, BackupPolicyStatus};

use crate::naming::{RunKind, run_now_job_name};

/// The annotation that asks for one backup now; its value is a token the status echoes
/// in `lastRunNowAnnotation`.
pub const RUN_NOW_ANNOTATION: &str = "tidemark.dev/run-now";

/// Where a request comes from (each has its own "handled" record in the status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Spec,
    Annotation,
    Immediate,
}

/// One pending request for a backup now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub source: Source,
    /// The value the status records once handled.
    pub token: String,
    /// The value on the Job (its `run-now` annotation), unique per source.
    pub trigger: String,
    /// The Job's name, derived from `trigger`: the same request never starts two Jobs.
    pub job_name: String,
}

/// What the plan handled, per source (to echo in the status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub spec: Option<String>,
    pub annotation: Option<String>,
    /// The name of the Job `spec.immediate` started.
    pub immediate: Option<String>,
}

impl Handled {
    pub fn record(&mut self, r: &Request) {
        let v = Some(r.token.clone());
        match r.source {
            Source::Spec => self.spec = v,
            Source::Annotation => self.annotation = v,
            Source::Immediate => self.immediate = Some(r.job_name.clone()),
        }
    }
}

/// The requests not handled yet, in order: `runNow`, the annotation, `immediate`.
pub fn pending(
    policy: &str,
    spec: &BackupPolicySpec,
    status: &BackupPolicyStatus,
    annotation: Option<&str>,
) -> Vec<Request> {
    let request = |source, token: &str, trigger: String| Request {
        source,
        token: token.to_string(),
        job_name: run_now_job_name(policy, RunKind::Backup, &trigger),
        trigger,
    };
    let mut out = Vec::new();
    if let Some(v) = spec
        .run_now
        .as_deref()
        .filter(|v| status.last_run_now.as_deref() != Some(*v))
    {
        out.push(request(Source::Spec, v, v.to_string()));
    }
    if let Some(v) = annotation
        .map(str::trim)
        .filter(|v| !v.is_empty() && status.last_run_now_annotation.as_deref() != Some(*v))
    {
        out.push(request(Source::Annotation, v, format!("annotation/{v}")));
    }
    if spec.immediate && status.immediate_backup.is_none() {
        out.push(request(Source::Immediate, "immediate", "immediate".into()));
    }
    out
}
