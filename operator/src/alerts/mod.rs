//! Webhook alerts without Prometheus (`spec.notifications`): the seed runbook's Discord
//! alerts, accepted by Discord and Slack incoming webhooks alike.
//!
//! Deciding is pure ([`alert_for`] compares the status read with the status written, so
//! each transition alerts once); sending is I/O ([`read_webhook_url`], [`send`]).
//!
//! ```no_run
//! # async fn demo(client: kube::Client, policy: &tidemark_crd::BackupPolicy,
//! #     new: &tidemark_crd::backup_policy::BackupPolicyStatus) -> anyhow::Result<()> {
//! use tidemark_operator::alerts::{alert_for, http_client, read_webhook_url, send};
//! let (ns, name) = ("shop", "webshop");
//! // After the new status was written successfully:
//! if let (Some(alert), Some(n)) = (
//!     alert_for(policy.status.as_ref(), new, &policy.spec, ns, name, chrono::Utc::now()),
//!     &policy.spec.notifications,
//! ) {
//!     let url = read_webhook_url(client, ns, &n.webhook_url_secret_ref).await?;
//!     send(&http_client()?, &url, &alert).await?;
//! }
//! # Ok(()) }
//! ```

pub mod decide;
pub mod payload;
pub mod webhook;

pub use decide::{Alert, alert_for};
pub use webhook::{AlertError, WebhookUrl, http_client, read_webhook_url, send};
