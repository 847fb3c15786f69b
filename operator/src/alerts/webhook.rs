//! Sending an [`Alert`] to the incoming webhook a policy names.
//!
//! The URL comes from the one Secret key `spec.notifications.webhookUrlSecretRef` (the
//! only Secret the operator reads). A webhook URL is a credential (Discord and Slack put
//! the token in its path): it is held in [`WebhookUrl`], whose `Debug` is redacted, is
//! never logged, and is scrubbed from every error ([`AlertError`] never contains it).
//!
//! HTTP: reqwest on rustls with the aws-lc-rs provider (the workspace's only one), no
//! redirects (a redirect could carry the token elsewhere), a 10 s timeout.

use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use tidemark_crd::common::SecretKeyRef;

use super::decide::Alert;
use super::payload;

/// The field an invalid Secret reference is reported against.
pub const FIELD: &str = "spec.notifications.webhookUrlSecretRef";

/// A webhook URL. `Debug` does not show it; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

impl WebhookUrl {
    /// Parses an `http` or `https` URL (surrounding whitespace, e.g. a trailing newline
    /// of a Secret created from a file, is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let url = reqwest::Url::parse(text.trim()).ok()?;
        matches!(url.scheme(), "http" | "https")
            .then_some(url)
            .filter(|u| u.host_str().is_some())
            .map(Self)
    }

    /// Replaces the URL and its secret parts (path, query, host) in `text`.
    fn scrub(&self, text: &str) -> String {
        let url = &self.0;
        let mut out = text.replace(url.as_str(), "<webhook>");
        let path = url.path();
        if path.len() > 1 {
            out = out.replace(path, "/<redacted>");
        }
        if let Some(q) = url.query().filter(|q| !q.is_empty()) {
            out = out.replace(q, "<redacted>");
        }
        if let Some(host) = url.host_str() {
            out = out.replace(host, "<webhook-host>");
        }
        out
    }
}

/// Why an alert was not delivered. Never contains the URL.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("reading Secret {namespace}/{name} ({FIELD}): {source}")]
    ReadSecret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("Secret {namespace}/{name} has no key {key:?} ({FIELD})")]
    MissingKey {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("Secret {namespace}/{name} key {key:?} does not hold an http(s) URL ({FIELD})")]
    InvalidUrl {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("building the webhook HTTP client: {0}")]
    Client(String),
    #[error("sending the webhook request: {0}")]
    Send(String),
    #[error("the webhook answered HTTP {0}")]
    Status(u16),
}

/// Reads the webhook URL from the policy's Secret key in `namespace`.
pub async fn read_webhook_url(
    client: Client,
    namespace: &str,
    r: &SecretKeyRef,
) -> Result<WebhookUrl, AlertError> {
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let secret = secrets
        .get(&r.name)
        .await
        .map_err(|source| AlertError::ReadSecret {
            namespace: namespace.to_string(),
            name: r.name.clone(),
            source,
        })?;
    // Only the one key is looked at; the rest of the Secret is dropped at once.
    let bytes = secret
        .data
        .and_then(|mut d| d.remove(&r.key))
        .map(|b| b.0)
        .ok_or_else(|| AlertError::MissingKey {
            namespace: namespace.to_string(),
            name: r.name.clone(),
            key: r.key.clone(),
        })?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(WebhookUrl::parse)
        .ok_or_else(|| AlertError::InvalidUrl {
            namespace: namespace.to_string(),
            name: r.name.clone(),
            key: r.key.clone(),
        })
}

/// The HTTP client for webhooks.
pub fn http_client() -> Result<reqwest::Client, AlertError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tidemark-operator/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AlertError::Client(e.without_url().to_string()))
}

/// Posts the alert's [`payload::body`]; any 2xx answer is success.
pub async fn send(
    http: &reqwest::Client,
    url: &WebhookUrl,
    alert: &Alert,
) -> Result<(), AlertError> {
    let response = http
        .post(url.0.clone())
        .json(&payload::body(alert))
        .send()
        .await
        .map_err(|e| AlertError::Send(url.scrub(&error_chain(e.without_url()))))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(AlertError::Status(status.as_u16()))
    }
}

/// The error and its sources on one line.
fn error_chain(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
