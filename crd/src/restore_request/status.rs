//! `RestoreRequest` status: the phase machine, the resolved backup and measured timings.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::spec::WorkloadKind;
use crate::common::TableMismatch;
use crate::contract::result::{DatabaseRestore, PreflightResult};

/// Phase of a restore.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum RestorePhase {
    #[default]
    Pending,
    Resolving,
    /// Checking the target before anything is stopped or touched.
    Preflight,
    StoppingWriters,
    Restoring,
    PostRestore,
    Verifying,
    RestartingWriters,
    Succeeded,
    Failed,
}

impl RestorePhase {
    /// Whether the phase is final.
    pub fn is_terminal(self) -> bool {
        matches!(self, RestorePhase::Succeeded | RestorePhase::Failed)
    }
}

/// Observed state of a RestoreRequest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequestStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current phase.
    #[serde(default)]
    pub phase: RestorePhase,
    /// `Succeeded` and `Verified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Machine-readable reason of the current phase or failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable state or failure (never contains secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The backup chosen, recorded before anything is touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_backup: Option<ResolvedBackup>,
    /// What the preflight found in the target database (full restores that do not
    /// set `mode.clean: true`, and data-only restores), checked before any writer is
    /// stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_check: Option<PreflightResult>,
    /// Roles the restore created on the target server (`target.roles: CreateMissing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_created: Vec<String>,
    /// `backup.allDatabases`: what became of each database of the run, in run order
    /// (restored, mismatched, failed and rolled back, or not started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 12))]
    pub databases: Vec<DatabaseRestore>,
    /// Writers stopped, with the replica counts to restore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<WriterState>,
    /// Tables restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_restored: Option<i32>,
    /// Tables whose row counts were compared with the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_compared: Option<i32>,
    /// Connections that loaded the data: 1 for the single stream, 2 or more for the
    /// parallel path (built in a side database and swapped in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    /// Tables whose row counts differ from the manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<TableMismatch>,
    /// When each phase started and ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phase_timings: Vec<PhaseTiming>,
    /// When the request started being processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Total duration in seconds: the recovery time actually achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// Total duration for people (e.g. `1m23s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Jobs created for this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<RestoreJobs>,
}

/// The backup a RestoreRequest resolved to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedBackup {
    /// Object key.
    pub key: String,
    /// When the backup completed.
    pub completed_at: DateTime<Utc>,
    /// SHA-256 of the stored bytes, checked before the restore commits.
    pub sha256: String,
    /// Stored size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<i64>,
}

/// A writer's saved state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriterState {
    /// `Deployment` or `StatefulSet`.
    pub kind: WorkloadKind,
    /// Name of the workload.
    pub name: String,
    /// Replicas before the restore, restored afterwards.
    pub previous_replicas: i32,
    /// Whether the replica count has been restored.
    #[serde(default)]
    pub restarted: bool,
}

/// Timing of one phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTiming {
    /// The phase.
    pub phase: RestorePhase,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Its duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

/// Names of the Jobs a RestoreRequest created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreJobs {
    /// The `list` Job resolving an explicit source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    /// The preflight Job checking the target before anything is touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<String>,
    /// The restore Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
    /// The post-restore Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_restore: Option<String>,
    /// The verification Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
}
