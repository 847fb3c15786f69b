//! The operator binary's own settings: the environment the Helm chart's Deployment sets
//! for `tidemark-operator run` (not part of the runner Jobs' environment).

/// Default runner image of every Job.
pub const RUNNER_IMAGE: &str = "TIDEMARK_RUNNER_IMAGE";
/// Pod settings of every runner Job unless its `jobTemplate` sets its own (JSON).
pub const JOB_DEFAULTS: &str = "TIDEMARK_JOB_DEFAULTS";
/// Namespaces to watch, comma-separated; empty means all namespaces.
pub const WATCH_NAMESPACES: &str = "TIDEMARK_WATCH_NAMESPACES";
/// Address serving /metrics, /healthz and /readyz.
pub const METRICS_ADDR: &str = "TIDEMARK_METRICS_ADDR";
/// Hold a Lease; only the holder runs the controllers (`true`/`false`).
pub const LEADER_ELECTION: &str = "TIDEMARK_LEADER_ELECTION";
/// Name of the Lease.
pub const LEASE_NAME: &str = "TIDEMARK_LEASE_NAME";
/// Log format (`json` or `text`).
pub const LOG_FORMAT: &str = "TIDEMARK_LOG_FORMAT";
/// Namespace of the Lease (the Downward API's `metadata.namespace`).
pub const POD_NAMESPACE: &str = "POD_NAMESPACE";
/// This replica's identity in the Lease (the Downward API's `metadata.name`).
pub const POD_NAME: &str = "POD_NAME";

/// Every setting of the operator binary, each once.
pub const ALL: &[&str] = &[
    RUNNER_IMAGE,
    JOB_DEFAULTS,
    WATCH_NAMESPACES,
    METRICS_ADDR,
    LEADER_ELECTION,
    LEASE_NAME,
    LOG_FORMAT,
    POD_NAMESPACE,
    POD_NAME,
];
