//! What every controller of the operator shares: the API client, the operator's
//! settings from the `run` command line, and the event reporter.
//!
//! A `Context` is built once in `run` and shared behind an `Arc` by all controllers.

use std::sync::Arc;

use kube::runtime::events::Reporter;

use crate::runtime::events::BoundedRecorder;

use crate::runtime::job::JobDefaults;
use crate::runtime::job::PodDefaults;

/// The name under which the operator reports events and writes status (field manager).
pub const CONTROLLER_NAME: &str = "tidemark-operator";

/// Output format of the operator's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (default; for log collectors).
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// Which namespaces the controllers watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchScope {
    /// Every namespace (one cluster-wide watch per kind).
    All,
    /// Exactly these namespaces (one watch per namespace and kind).
    Namespaces(Vec<String>),
}

impl WatchScope {
    /// The scope of a `--namespaces a,b` value: empty (or only commas/blanks) means all.
    pub fn from_list<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<String> = names
            .into_iter()
            .map(|s| s.as_ref().trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            Self::All
        } else {
            Self::Namespaces(list)
        }
    }

    /// Whether an object in `namespace` is in scope.
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Self::All => true,
            Self::Namespaces(list) => list.iter().any(|n| n == namespace),
        }
    }
}

/// Leader election settings (`--leader-election`, `--lease-name`, `--lease-namespace`,
/// `--identity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Whether to hold a Lease before running the controllers.
    pub enabled: bool,
    /// Name of the coordination.k8s.io Lease.
    pub lease_name: String,
    /// Namespace of the Lease (resolved: the flag or the client's default namespace).
    pub lease_namespace: String,
    /// This replica's identity in the Lease (pod name, or hostname + pid).
    pub identity: String,
}

/// The operator's settings: one field per `tidemark-operator run` flag, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorConfig {
    /// `--runner-image`: the default runner image for Jobs.
    pub runner_image: String,
    /// `--job-defaults`: pod settings of runner Jobs whose `jobTemplate` sets none.
    pub job_pod_defaults: PodDefaults,
    /// `--namespaces`: which namespaces to watch.
    pub namespaces: WatchScope,
    /// `--metrics-addr`: where `/metrics`, `/healthz` and `/readyz` are served.
    pub metrics_addr: std::net::SocketAddr,
    /// `--leader-election`, `--lease-name`, `--lease-namespace`, `--identity`.
    pub leader: LeaderElectionConfig,
    /// `--log-format`.
    pub log_format: LogFormat,
}

impl OperatorConfig {
    /// The operator-wide settings the Job builders need.
    pub fn job_defaults(&self) -> JobDefaults {
        JobDefaults {
            runner_image: self.runner_image.clone(),
            pod: self.job_pod_defaults.clone(),
        }
    }
}

/// Shared state of all controllers.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// The resolved settings.
    pub config: OperatorConfig,
    /// Who reports events (`tidemark-operator`, instance = identity).
    pub reporter: Reporter,
    /// Publishes Kubernetes Events (shared: it de-duplicates repeated events, and its
    /// cache is bounded by renewing it every
    /// [`RECORDER_EVENTS`](crate::runtime::events::RECORDER_EVENTS) Events).
    pub recorder: BoundedRecorder,
}

impl Context {
    /// A context for `client` and `config`.
    pub fn new(client: kube::Client, config: OperatorConfig) -> Arc<Self> {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: Some(config.leader.identity.clone()),
        };
        let recorder = BoundedRecorder::of(client.clone(), reporter.clone());
        Arc::new(Self {
            client,
            config,
            reporter,
            recorder,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_namespace_list_means_all() {
        assert_eq!(WatchScope::from_list(Vec::<String>::new()), WatchScope::All);
        assert_eq!(WatchScope::from_list([" ", ""]), WatchScope::All);
        assert!(WatchScope::All.contains("anything"));
    }

    #[test]
    fn namespace_list_is_trimmed_and_deduplicated() {
        let scope = WatchScope::from_list(["b", " a", "b", ""]);
        assert_eq!(
            scope,
            WatchScope::Namespaces(vec!["a".to_string(), "b".to_string()])
        );
        assert!(scope.contains("a"));
        assert!(!scope.contains("c"));
    }
}
