//! Structured logs with tracing: JSON (default) or text, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

use crate::context::LogFormat;

/// Installs the global subscriber on stderr. `RUST_LOG` overrides the default `info`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// An error and its causes on one line, each cause once: libraries such as kube put
/// their source's message into their own, so `{:#}` would repeat the same text.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to infer config: kubeconfig: ({0})")]
    struct Embeds(#[source] std::io::Error);

    #[test]
    fn each_cause_appears_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(Embeds(io)).context("connecting to the Kubernetes API");
        assert_eq!(
            error_chain(&e),
            "connecting to the Kubernetes API: failed to infer config: kubeconfig: (no such file)"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }
}
