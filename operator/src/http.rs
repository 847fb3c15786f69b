//! The operator's HTTP endpoint on `--metrics-addr`: `/metrics` (Prometheus, see
//! [`crate::metrics`]), `/healthz` (the process serves requests) and `/readyz` (ready once
//! the controllers' caches are synced, or while this replica is a standby follower).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use tidemark_operator::http::{Readiness, serve};
//! use tidemark_operator::metrics::Metrics;
//! let metrics = Arc::new(Metrics::new());
//! let readiness = Readiness::default();
//! let addr = "0.0.0.0:8080".parse()?;
//! tokio::spawn(serve(addr, metrics.clone(), readiness.clone(), std::future::pending()));
//! // … once the controllers' stores are synced (or when following):
//! readiness.set_synced(true);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::{CONTENT_TYPE, Metrics};

/// What `/readyz` reports; clones share the flags.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    synced: Arc<AtomicBool>,
    standby: Arc<AtomicBool>,
}

impl Readiness {
    /// The controllers' stores have (or no longer have) their initial list.
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }

    /// This replica is (or stopped being) a standby follower of the leader election.
    /// A follower runs no controllers and is ready as it is.
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::SeqCst);
    }

    /// Synced, or a standby follower.
    pub fn is_ready(&self) -> bool {
        self.synced.load(Ordering::SeqCst) || self.standby.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    readiness: Readiness,
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        )
            .into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

/// The routes, for [`serve`] and for in-process tests.
pub fn router(metrics_registry: Arc<Metrics>, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState {
            metrics: metrics_registry,
            readiness,
        })
}

/// Serves [`router`] on `addr` until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    metrics_registry: Arc<Metrics>,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics address {addr} (--metrics-addr)"))?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router(metrics_registry, readiness))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the metrics endpoint")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(app: Router, path: &str) -> (StatusCode, String, Option<String>) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            String::from_utf8(bytes.to_vec()).unwrap(),
            content_type,
        )
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_openmetrics_format() {
        let m = Arc::new(Metrics::new());
        let policy = crate::testing::minimal_policy(|_| {});
        m.record_policy(&policy, &Default::default(), chrono::Utc::now());
        let (status, body, content_type) = get(router(m, Readiness::default()), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
        assert!(body.contains(
            r#"tidemark_backup_expected_interval_seconds{namespace="shop",policy="web"} 3600.0"#
        ));
    }

    #[tokio::test]
    async fn healthz_answers_at_once_and_readyz_waits_for_sync_or_standby() {
        let m = Arc::new(Metrics::new());
        let readiness = Readiness::default();
        let app = router(m, readiness.clone());
        assert_eq!(get(app.clone(), "/healthz").await.0, StatusCode::OK);
        assert_eq!(
            get(app.clone(), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_standby(true);
        assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::OK);
        readiness.set_standby(false);
        assert_eq!(
            get(app.clone(), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_synced(true);
        assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::OK);
        assert_eq!(get(app, "/nope").await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn serve_listens_and_stops_on_shutdown() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Find a free port, then serve on it.
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            addr,
            Arc::new(Metrics::new()),
            Readiness::default(),
            async {
                let _ = stopped.await;
            },
        ));
        let mut answer = String::new();
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                s.read_to_string(&mut answer).await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
