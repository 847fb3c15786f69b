//! The operator's command line: `crd` and `run` with its flags (each also an env var).

use std::net::SocketAddr;
use tidemark_crd::contract::env::operator as settings;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::context::{LeaderElectionConfig, LogFormat, OperatorConfig, WatchScope};
use crate::jobs::PodDefaults;

/// Tidemark: declarative, verified logical PostgreSQL backups to S3.
#[derive(Parser, Debug)]
#[command(name = "tidemark-operator", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the CustomResourceDefinitions as YAML (`... crd | kubectl apply -f -`).
    Crd,
    /// Run the controllers (KUBECONFIG or in-cluster configuration).
    Run(RunArgs),
}

/// Flags of `tidemark-operator run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Default runner image for Jobs (a policy's `jobTemplate.image` overrides it).
    #[arg(long, env = settings::RUNNER_IMAGE)]
    pub runner_image: String,
    /// Pod settings of every runner Job unless its `jobTemplate` sets its own: a JSON
    /// object with `imagePullSecrets`, `resources`, `nodeSelector`, `tolerations`.
    #[arg(
        long,
        env = settings::JOB_DEFAULTS,
        default_value = "",
        value_parser = parse_job_defaults
    )]
    pub job_defaults: Box<PodDefaults>,
    /// Namespaces to watch, comma-separated; empty means all namespaces.
    #[arg(
        long,
        env = settings::WATCH_NAMESPACES,
        value_delimiter = ',',
        default_value = ""
    )]
    pub namespaces: Vec<String>,
    /// Address serving /metrics, /healthz and /readyz.
    #[arg(long, env = settings::METRICS_ADDR, default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Hold a coordination.k8s.io Lease; only the holder runs the controllers.
    #[arg(
        long,
        env = settings::LEADER_ELECTION,
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub leader_election: bool,
    /// Name of the Lease.
    #[arg(long, env = settings::LEASE_NAME, default_value = "tidemark-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (default: the kube client's default namespace).
    #[arg(long, env = settings::POD_NAMESPACE)]
    pub lease_namespace: Option<String>,
    /// This replica's identity in the Lease (default: hostname + pid).
    #[arg(long, env = settings::POD_NAME)]
    pub identity: Option<String>,
    /// Log format.
    #[arg(long, env = settings::LOG_FORMAT, value_enum, default_value = "json")]
    pub log_format: LogFormat,
}

impl RunArgs {
    /// The resolved settings; `default_namespace` is the kube client's default namespace.
    pub fn resolve(&self, default_namespace: &str) -> OperatorConfig {
        OperatorConfig {
            runner_image: self.runner_image.clone(),
            job_pod_defaults: (*self.job_defaults).clone(),
            namespaces: WatchScope::from_list(&self.namespaces),
            metrics_addr: self.metrics_addr,
            leader: LeaderElectionConfig {
                enabled: self.leader_election,
                lease_name: self.lease_name.clone(),
                lease_namespace: self
                    .lease_namespace
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| default_namespace.to_string()),
                identity: self
                    .identity
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(default_identity),
            },
            log_format: self.log_format,
        }
    }
}

/// Boxed: it would make `RunArgs` (and so `Command`) large.
fn parse_job_defaults(text: &str) -> Result<Box<PodDefaults>, String> {
    PodDefaults::from_json(text)
        .map(Box::new)
        .map_err(|e| e.to_string())
}

/// `<hostname>-<pid>`: unique per process even when two replicas share a host.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "tidemark-operator".to_string());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> RunArgs {
        let mut all = vec!["tidemark-operator", "run"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Run(r) => r,
            Command::Crd => panic!("expected run"),
        }
    }

    #[test]
    fn flags_resolve_with_defaults() {
        let cfg = parse(&["--runner-image", "img:1"]).resolve("ops");
        assert_eq!(cfg.runner_image, "img:1");
        assert_eq!(cfg.metrics_addr.to_string(), "0.0.0.0:8080");
        assert!(!cfg.leader.enabled);
        assert_eq!(cfg.leader.lease_name, "tidemark-operator");
        assert!(!cfg.leader.identity.is_empty());
        assert_eq!(cfg.log_format, LogFormat::Json);
    }

    #[test]
    fn explicit_flags() {
        let cfg = parse(&[
            "--runner-image",
            "img:1",
            "--namespaces",
            "a,b",
            "--metrics-addr",
            "127.0.0.1:9000",
            "--leader-election",
            "true",
            "--lease-name",
            "l",
            "--lease-namespace",
            "ns",
            "--identity",
            "me",
            "--log-format",
            "text",
        ])
        .resolve("ops");
        assert_eq!(
            cfg.namespaces,
            WatchScope::Namespaces(vec!["a".into(), "b".into()])
        );
        assert_eq!(cfg.metrics_addr.to_string(), "127.0.0.1:9000");
        assert!(cfg.leader.enabled);
        assert_eq!(cfg.leader.lease_name, "l");
        assert_eq!(cfg.leader.lease_namespace, "ns");
        assert_eq!(cfg.leader.identity, "me");
        assert_eq!(cfg.log_format, LogFormat::Text);
    }

    #[test]
    fn leader_election_as_bare_flag() {
        let cfg = parse(&["--leader-election", "--runner-image", "i"]).resolve("ops");
        assert!(cfg.leader.enabled);
        assert_eq!(cfg.leader.lease_namespace, "ops");
    }

    #[test]
    fn job_defaults_flag_reaches_the_job_defaults() {
        let cfg = parse(&[
            "--runner-image",
            "img:1",
            "--job-defaults",
            r#"{"nodeSelector":{"pool":"backup"},"imagePullSecrets":[{"name":"regcred"}]}"#,
        ])
        .resolve("ops");
        let defaults = cfg.job_defaults();
        assert_eq!(defaults.runner_image, "img:1");
        assert_eq!(defaults.pod.node_selector["pool"], "backup");
        assert_eq!(defaults.pod.image_pull_secrets[0].name, "regcred");
        let none = parse(&["--runner-image", "img:1"]).resolve("ops");
        assert_eq!(none.job_defaults().pod, PodDefaults::default());
    }

    #[test]
    fn bad_job_defaults_are_refused_at_startup() {
        let err = Cli::try_parse_from([
            "tidemark-operator",
            "run",
            "--runner-image",
            "i",
            "--job-defaults",
            r#"{"tolerations":"all"}"#,
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("--job-defaults"), "{err}");
    }

    #[test]
    fn runner_image_is_required() {
        assert!(Cli::try_parse_from(["tidemark-operator", "run"]).is_err());
    }
}
