//! Webhook alerts over real HTTP to a local listener, and the webhook URL read from a
//! Secret through kube's client (an in-process API answer), never leaking the URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::http::{Request, Response, StatusCode};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::client::Body;
use tidemark_crd::backup_policy::AlertEvent;
use tidemark_crd::common::SecretKeyRef;
use tidemark_operator::alerts::{
    Alert, AlertError, WebhookUrl, http_client, read_webhook_url, send,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "T0K3N-very-secret";

fn alert() -> Alert {
    Alert {
        event: AlertEvent::BackupFailed,
        also: Vec::new(),
        namespace: "shop".into(),
        policy: "webshop".into(),
        reason: "PgDumpFailed".into(),
        message: "pg_dump exited with status 1".into(),
        time: "2026-11-23T12:01:00Z".parse().unwrap(),
    }
}

/// One HTTP request as received.
#[derive(Debug)]
struct Received {
    head: String,
    body: String,
}

/// Accepts one connection, reads one request, answers `status`.
async fn one_request_server(status: u16) -> (String, tokio::task::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let (head, length) = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the headers ended");
            data.extend_from_slice(&buf[..n]);
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(data[..end].to_vec()).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                data.drain(..end + 4);
                break (head, length);
            }
        };
        while data.len() < length {
            let n = socket.read(&mut buf).await.unwrap();
            data.extend_from_slice(&buf[..n]);
        }
        let answer =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        socket.write_all(answer.as_bytes()).await.unwrap();
        Received {
            head,
            body: String::from_utf8(data).unwrap(),
        }
    });
    (format!("http://{addr}/api/webhooks/123/{TOKEN}"), task)
}

#[tokio::test]
async fn the_alert_is_posted_as_json_with_content_and_text() {
    let (url, server) = one_request_server(204).await;
    let url = WebhookUrl::parse(&url).unwrap();
    send(&http_client().unwrap(), &url, &alert()).await.unwrap();
    let got = server.await.unwrap();
    assert!(
        got.head
            .starts_with(&format!("POST /api/webhooks/123/{TOKEN} HTTP/1.1")),
        "{}",
        got.head
    );
    assert!(
        got.head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{}",
        got.head
    );
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    let expected = "[tidemark] BackupFailed shop/webshop (backup failed): PgDumpFailed - \
                    pg_dump exited with status 1 at 2026-11-23T12:01:00Z";
    assert_eq!(body["content"], expected, "Discord's field");
    assert_eq!(body["text"], expected, "Slack's field");
}

#[tokio::test]
async fn a_rejected_or_unreachable_webhook_is_an_error_without_the_url() {
    let (url, server) = one_request_server(500).await;
    let url = WebhookUrl::parse(&url).unwrap();
    let err = send(&http_client().unwrap(), &url, &alert())
        .await
        .unwrap_err();
    server.await.unwrap();
    assert!(matches!(err, AlertError::Status(500)), "{err}");

    // Nothing listens on this port any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = WebhookUrl::parse(&format!("http://{addr}/hooks/{TOKEN}?key={TOKEN}")).unwrap();
    let err = send(&http_client().unwrap(), &url, &alert())
        .await
        .unwrap_err();
    assert!(matches!(err, AlertError::Send(_)), "{err}");
    for text in [err.to_string(), format!("{err:?}"), format!("{url:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains(&addr.to_string()), "{text}");
    }
}

/// A kube client whose API answers every request with `secret` (or 404 when `None`)
/// and records the request paths.
fn api_with(secret: Option<Secret>) -> (kube::Client, Arc<Mutex<Vec<String>>>) {
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    let service = tower::service_fn(move |req: Request<Body>| {
        seen.lock()
            .unwrap()
            .push(format!("{} {}", req.method(), req.uri().path()));
        let secret = secret.clone();
        async move {
            let (status, body) = match secret {
                Some(s) => (StatusCode::OK, serde_json::to_vec(&s).unwrap()),
                None => (
                    StatusCode::NOT_FOUND,
                    serde_json::to_vec(&serde_json::json!({
                        "kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "secrets \"alerts\" not found", "reason": "NotFound", "code": 404
                    }))
                    .unwrap(),
                ),
            };
            Ok::<_, Infallible>(
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
        }
    });
    (kube::Client::new(service, "default"), paths)
}

fn secret(entries: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("alerts".into()),
            namespace: Some("shop".into()),
            ..Default::default()
        },
        data: Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn key(k: &str) -> SecretKeyRef {
    SecretKeyRef {
        name: "alerts".into(),
        key: k.into(),
    }
}

#[tokio::test]
async fn the_url_is_read_from_the_one_secret_key_the_policy_names() {
    let url = format!("https://discord.example/api/webhooks/1/{TOKEN}\n");
    let (client, paths) = api_with(Some(secret(&[("url", &url), ("other", "x")])));
    let got = read_webhook_url(client, "shop", &key("url")).await.unwrap();
    assert_eq!(
        Some(got.clone()),
        WebhookUrl::parse(url.trim()),
        "trailing newline ignored"
    );
    assert_eq!(format!("{got:?}"), "WebhookUrl(<redacted>)");
    assert_eq!(
        *paths.lock().unwrap(),
        vec!["GET /api/v1/namespaces/shop/secrets/alerts"]
    );
}

#[tokio::test]
async fn a_missing_secret_key_or_a_bad_url_names_the_field_and_shows_no_value() {
    let (client, _) = api_with(Some(secret(&[("url", "not a url"), ("x", TOKEN)])));
    let err = read_webhook_url(client.clone(), "shop", &key("missing"))
        .await
        .unwrap_err();
    assert!(matches!(err, AlertError::MissingKey { .. }));
    assert_eq!(
        err.to_string(),
        "Secret shop/alerts has no key \"missing\" (spec.notifications.webhookUrlSecretRef)"
    );
    let err = read_webhook_url(client, "shop", &key("url"))
        .await
        .unwrap_err();
    assert!(matches!(err, AlertError::InvalidUrl { .. }));
    assert!(!err.to_string().contains("not a url"), "{err}");

    let (client, _) = api_with(Some(secret(&[("url", &format!("ftp://host/{TOKEN}"))])));
    let err = read_webhook_url(client, "shop", &key("url"))
        .await
        .unwrap_err();
    assert!(matches!(err, AlertError::InvalidUrl { .. }));
    assert!(!err.to_string().contains(TOKEN));

    let (client, _) = api_with(None);
    let err = read_webhook_url(client, "shop", &key("url"))
        .await
        .unwrap_err();
    assert!(matches!(err, AlertError::ReadSecret { .. }));
    assert!(err.to_string().contains("Secret shop/alerts"), "{err}");
}
