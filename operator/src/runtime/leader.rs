//! Leader election on a `coordination.k8s.io/v1` Lease (`--leader-election`), with the
//! maintained `kube-lease-manager` crate: only the leader runs the controllers.
//!
//! The elector creates the Lease if needed, takes it when it is free or expired, and
//! renews it `grace` seconds before it expires. Standby replicas take over within one
//! lease duration after the leader stops renewing (a crash), or at once when it steps
//! down ([`Leadership::step_down`], on shutdown).
//!
//! Failover loses no run and duplicates none even if two replicas believe they lead for
//! a moment (e.g. a paused leader that has not noticed its lease expired): Job names are
//! derived from the policy and the scheduled time, so the second create of a run is
//! refused by the API server with `AlreadyExists`.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> anyhow::Result<()> {
//! use tidemark_operator::runtime::leader::{LeaderConfig, Leadership};
//! let config = LeaderConfig::new("tidemark-system", "tidemark-operator", "pod-a");
//! let mut leadership = Leadership::start(client, &config).await?;
//! // Runs the controllers while leading; stops them when the lease is lost and starts
//! // them again when it is won back. Returns when the work itself ends.
//! leadership.run(|| async { /* run the controllers */ }).await;
//! leadership.step_down().await;
//! # Ok(()) }
//! ```
//!
//! RBAC: `get`, `create` and `patch` on the Lease (the crate writes it with patches).

use std::future::Future;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Default lease duration in seconds: a standby takes over at most this long after the
/// leader stopped renewing.
pub const DEFAULT_LEASE_SECONDS: u64 = 15;
/// Default renewal margin: the leader renews this many seconds before expiry.
pub const DEFAULT_GRACE_SECONDS: u64 = 5;

/// Where and as whom to elect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Namespace of the Lease (`--lease-namespace`).
    pub namespace: String,
    /// Name of the Lease (`--lease-name`).
    pub lease_name: String,
    /// This replica's identity (`--identity`), unique among replicas.
    pub identity: String,
    /// Lease duration in seconds.
    pub lease_seconds: u64,
    /// Renewal margin in seconds (less than `lease_seconds`).
    pub grace_seconds: u64,
}

impl LeaderConfig {
    /// With the default durations.
    pub fn new(namespace: &str, lease_name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            lease_name: lease_name.to_string(),
            identity: identity.to_string(),
            lease_seconds: DEFAULT_LEASE_SECONDS,
            grace_seconds: DEFAULT_GRACE_SECONDS,
        }
    }
}

/// Why leader election cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("lease timing: need 0 < grace ({grace}s) < lease duration ({lease}s)")]
    InvalidTiming { lease: u64, grace: u64 },
    #[error("--identity must not be empty")]
    EmptyIdentity,
    #[error("setting up the Lease {namespace}/{name}: {source}")]
    Lease {
        namespace: String,
        name: String,
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
}

/// A running elector. Dropping it steps down like [`Leadership::step_down`], without
/// waiting.
pub struct Leadership {
    is_leader: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, kube_lease_manager::LeaseManagerError>>,
}

impl Leadership {
    /// Starts electing (creating the Lease when it does not exist).
    pub async fn start(client: Client, config: &LeaderConfig) -> Result<Self, LeaderError> {
        let (lease, grace) = (config.lease_seconds, config.grace_seconds);
        if grace == 0 || grace >= lease {
            return Err(LeaderError::InvalidTiming { lease, grace });
        }
        if config.identity.is_empty() {
            return Err(LeaderError::EmptyIdentity);
        }
        let manager = LeaseManagerBuilder::new(client, &config.lease_name)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_duration(lease)
            .with_grace(grace)
            .build()
            .await
            .map_err(|source| LeaderError::Lease {
                namespace: config.namespace.clone(),
                name: config.lease_name.clone(),
                source,
            })?;
        let (is_leader, task) = manager.watch().await;
        tracing::info!(
            lease = %format!("{}/{}", config.namespace, config.lease_name),
            identity = %config.identity,
            "leader election started"
        );
        Ok(Self { is_leader, task })
    }

    /// Whether this replica leads now.
    pub fn is_leader(&self) -> bool {
        *self.is_leader.borrow()
    }

    /// A receiver of leadership changes (e.g. for readiness and the `tidemark_leader` metric).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.is_leader.clone()
    }

    /// Waits until this replica leads. `false` if the elector stopped.
    pub async fn until_leader(&mut self) -> bool {
        self.is_leader.wait_for(|leading| *leading).await.is_ok()
    }

    /// Runs `make_work()` while this replica leads: waits to lead, runs the work, and
    /// drops (cancels) it when the lease is lost, then waits to lead again and starts a
    /// fresh one. Returns the work's output when it ends by itself while leading, or
    /// `None` when the elector stopped.
    pub async fn run<F, Fut>(&mut self, mut make_work: F) -> Option<Fut::Output>
    where
        F: FnMut() -> Fut,
        Fut: Future,
    {
        loop {
            if !self.until_leader().await {
                return None;
            }
            tracing::info!("leading: starting the controllers");
            let work = make_work();
            tokio::pin!(work);
            let lost = self.is_leader.wait_for(|leading| !*leading);
            tokio::select! {
                output = &mut work => return Some(output),
                result = lost => {
                    if result.is_err() {
                        return None;
                    }
                    tracing::warn!("lost the leader lease: stopping the controllers");
                }
            }
        }
    }

    /// Steps down: releases the Lease (so a standby takes over at once) and stops.
    pub async fn step_down(self) {
        let Self { is_leader, task } = self;
        drop(is_leader);
        match task.await {
            Ok(Ok(_)) => tracing::info!("released the leader lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "releasing the leader lease"),
            Err(e) => tracing::warn!(error = %e, "the leader election task ended abnormally"),
        }
    }

    /// Stops renewing without releasing, as a crashed replica would; the Lease expires
    /// after its duration. For failover tests.
    pub fn abandon(self) {
        self.task.abort();
    }
}
