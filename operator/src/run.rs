//! `tidemark-operator run`: connect, resolve the settings, serve /metrics /healthz
//! /readyz, and run the controllers (only while leading, with `--leader-election`) until
//! a shutdown signal.

use std::sync::Arc;

use anyhow::Context as _;

use crate::backup_policy::controller::run as run_backup_policies;
use crate::cli::RunArgs;
use crate::context::Context;
use crate::http::{self, Readiness};
use crate::metrics::{ForgetObjectsOnDrop, Metrics};
use crate::runtime::leader::{LeaderConfig, Leadership};
use crate::runtime::{Shutdown, shutdown_from};

/// Runs the operator until SIGTERM/SIGINT.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (KUBECONFIG or in-cluster)")?;
    let config = args.resolve(client.default_namespace());
    tracing::info!(
        runner_image = %config.runner_image,
        namespaces = ?config.namespaces,
        metrics_addr = %config.metrics_addr,
        leader_election = config.leader.enabled,
        identity = %config.leader.identity,
        "starting tidemark-operator"
    );
    let ctx = Context::new(client, config);
    let shutdown = shutdown_from(shutdown_signal());
    let metrics = Arc::new(Metrics::new());
    let readiness = Readiness::default();

    let server = tokio::spawn(http::serve(
        ctx.config.metrics_addr,
        metrics.clone(),
        readiness.clone(),
        shutdown.clone(),
    ));

    let work = {
        let (ctx, metrics, readiness, shutdown) = (
            ctx.clone(),
            metrics.clone(),
            readiness.clone(),
            shutdown.clone(),
        );
        move || {
            controllers(
                ctx.clone(),
                metrics.clone(),
                readiness.clone(),
                shutdown.clone(),
            )
        }
    };
    let result = if ctx.config.leader.enabled {
        lead_and_run(&ctx, &metrics, &readiness, shutdown.clone(), work).await
    } else {
        metrics.set_leader(true);
        work().await;
        Ok(())
    };
    server.abort();
    tracing::info!("tidemark-operator stopped");
    result
}

/// The controllers: BackupPolicy and RestoreRequest, side by side.
async fn controllers(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: Shutdown,
) {
    // Dropped with this future: a replica whose controllers stop exports no per-object
    // series (the leader does).
    let _forget = ForgetObjectsOnDrop(metrics.clone());
    futures::future::join(
        run_backup_policies(ctx.clone(), metrics.clone(), readiness, shutdown.clone()),
        crate::restore_request::controller::run(ctx, metrics, shutdown),
    )
    .await;
}

/// Runs `work` only while this replica holds the Lease; a standby is ready (it serves
/// /readyz) but schedules nothing. Steps down on shutdown so a standby takes over at once.
async fn lead_and_run<F, Fut>(
    ctx: &Context,
    metrics: &Metrics,
    readiness: &Readiness,
    shutdown: Shutdown,
    work: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let l = &ctx.config.leader;
    let config = LeaderConfig::new(&l.lease_namespace, &l.lease_name, &l.identity);
    let mut leadership = Leadership::start(ctx.client.clone(), &config)
        .await
        .context("starting leader election (--leader-election)")?;
    let mut changes = leadership.subscribe();
    let (m, r) = (metrics, readiness.clone());
    let follow = async move {
        loop {
            let leading = *changes.borrow_and_update();
            m.set_leader(leading);
            r.set_standby(!leading);
            if changes.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = leadership.run(work) => {},
        () = shutdown => {},
        () = follow => {},
    }
    leadership.step_down().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
