//! `tidemark-operator run`: connect, resolve the settings, and run the controllers
//! until a shutdown signal.

use anyhow::Context as _;

use crate::cli::RunArgs;
use crate::context::Context;

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
    let shutdown = crate::controller::shutdown_from(shutdown_signal());
    crate::controller::run_backup_policies(ctx, shutdown).await;
    tracing::info!("controllers stopped");
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
