//! The one shape of every runner Job: hardened pod, standard labels, owner reference,
//! deadlines, and the scheduling settings of the resource's `jobTemplate` (completed by
//! the operator-wide [`PodDefaults`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use tidemark_crd::common::JobTemplate;

use super::defaults::PodDefaults;
use super::volumes::{TMP_PATH, scratch};
use crate::naming::RunKind;

/// UID/GID the runner runs as (the distroless `nonroot` user).
pub const RUNNER_UID: i64 = 65_532;
/// Name of the runner container.
pub const RUNNER_CONTAINER: &str = "runner";

/// Label keys.
pub mod labels {
    pub const NAME: &str = "app.kubernetes.io/name";
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    pub const POLICY: &str = "tidemark.dev/policy";
    pub const RESTORE_REQUEST: &str = "tidemark.dev/restore-request";
    pub const RUN_KIND: &str = "tidemark.dev/run-kind";
    pub const SCHEDULED_TIME: &str = "tidemark.dev/scheduled-time";
    pub const RUN_NOW: &str = "tidemark.dev/run-now";
}

/// Who owns a Job: a BackupPolicy or a RestoreRequest.
#[derive(Clone, Debug)]
pub struct JobOwner {
    /// The owner reference (controller, blocking deletion).
    pub reference: OwnerReference,
    /// `tidemark.dev/policy` or `tidemark.dev/restore-request`.
    pub label: &'static str,
}

/// Everything that varies between runner Jobs.
#[derive(Clone, Debug)]
pub struct RunnerJob<'a> {
    pub name: String,
    pub namespace: String,
    pub owner: JobOwner,
    pub kind: RunKind,
    pub image: String,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<(Volume, VolumeMount)>,
    pub template: &'a JobTemplate,
    /// The operator-wide pod settings for what `template` leaves empty.
    pub pod_defaults: &'a PodDefaults,
    pub deadline_seconds: i64,
    pub scheduled: Option<DateTime<Utc>>,
    pub run_now: Option<String>,
    /// Native sidecars (init containers with `restartPolicy: Always`), e.g. the
    /// ephemeral PostgreSQL server of a restore test.
    pub sidecars: Vec<Container>,
}

fn restricted_container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

/// The restricted pod security context shared by every runner pod.
pub fn restricted_pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUNNER_UID),
        run_as_group: Some(RUNNER_UID),
        fs_group: Some(RUNNER_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// Container security context for sidecars (same restrictions as the runner).
pub fn sidecar_security() -> SecurityContext {
    restricted_container_security()
}

/// Builds the Job.
pub fn build(job: RunnerJob<'_>) -> Job {
    let t = &job.pod_defaults.apply(job.template);
    let mut labels: BTreeMap<String, String> = t.labels.clone();
    labels.insert(labels::NAME.into(), "tidemark-runner".into());
    labels.insert(labels::INSTANCE.into(), job.owner.reference.name.clone());
    labels.insert(labels::COMPONENT.into(), job.kind.label().into());
    labels.insert(labels::MANAGED_BY.into(), "tidemark-operator".into());
    labels.insert(labels::PART_OF.into(), "tidemark".into());
    labels.insert(job.owner.label.into(), job.owner.reference.name.clone());
    labels.insert(labels::RUN_KIND.into(), job.kind.label().into());

    let mut annotations: BTreeMap<String, String> = t.annotations.clone();
    if let Some(s) = job.scheduled {
        annotations.insert(labels::SCHEDULED_TIME.into(), s.to_rfc3339());
    }
    if let Some(r) = &job.run_now {
        annotations.insert(labels::RUN_NOW.into(), r.clone());
    }

    let (tmp_volume, tmp_mount) = scratch("tmp", TMP_PATH, "64Mi");
    let mut volumes = vec![tmp_volume];
    let mut mounts = vec![tmp_mount];
    for (v, m) in job.mounts {
        volumes.push(v);
        mounts.push(m);
    }

    let container = Container {
        name: RUNNER_CONTAINER.to_string(),
        image: Some(job.image),
        image_pull_policy: t.image_pull_policy.clone(),
        args: Some(job.args),
        env: Some(job.env),
        resources: t.resources.clone(),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(mounts),
        termination_message_policy: Some("File".to_string()),
        ..Container::default()
    };

    let pod = PodSpec {
        restart_policy: Some("Never".to_string()),
        automount_service_account_token: Some(false),
        service_account_name: t.service_account_name.clone(),
        priority_class_name: t.priority_class_name.clone(),
        node_selector: (!t.node_selector.is_empty()).then(|| t.node_selector.clone()),
        tolerations: (!t.tolerations.is_empty()).then(|| t.tolerations.clone()),
        affinity: t.affinity.clone(),
        image_pull_secrets: (!t.image_pull_secrets.is_empty())
            .then(|| t.image_pull_secrets.clone()),
        security_context: Some(restricted_pod_security()),
        init_containers: (!job.sidecars.is_empty()).then_some(job.sidecars),
        containers: vec![container],
        volumes: Some(volumes),
        ..PodSpec::default()
    };

    Job {
        metadata: ObjectMeta {
            name: Some(job.name),
            namespace: Some(job.namespace),
            labels: Some(labels.clone()),
            annotations: (!annotations.is_empty()).then(|| annotations.clone()),
            owner_references: Some(vec![job.owner.reference]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(t.backoff_limit),
            active_deadline_seconds: Some(job.deadline_seconds),
            ttl_seconds_after_finished: Some(t.ttl_seconds_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}
