//! The S3 client: the AWS SDK's default credential chain (environment keys, web identity
//! / IRSA, profile, container and instance metadata), optional custom endpoint,
//! path-style addressing and an extra CA bundle — enough for AWS, SeaweedFS, MinIO,
//! Spaces and R2.

use aws_config::BehaviorVersion;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::error::{Error, Result};
use crate::s3::sdk::SdkStore;
use crate::s3::settings::S3Settings;
use crate::s3::store::Store;

/// Region used when neither the settings nor the SDK chain name one (custom endpoints
/// usually ignore it, but SigV4 needs one).
const FALLBACK_REGION: &str = "us-east-1";

/// Longest wait for the next chunk of a streamed body (set once by [`build`]; the SDK's
/// read timeout covers the answer's headers, this covers the body of downloads).
static BODY_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Used before [`build`] ran (tests of pure parts).
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest wait for the next chunk of a download's body.
pub fn body_timeout() -> Duration {
    BODY_TIMEOUT.get().copied().unwrap_or(DEFAULT_BODY_TIMEOUT)
}

/// The store of the bucket `args` name, on the client they describe.
pub async fn connect(args: &S3Settings) -> Result<Store> {
    let client = build(args).await?;
    Ok(Arc::new(SdkStore::new(client, args.bucket.clone())))
}

/// Builds the client the settings describe.
async fn build(args: &S3Settings) -> Result<Client> {
    if let Some(endpoint) = args.endpoint.as_deref().filter(|e| !e.is_empty()) {
        check_endpoint(endpoint)?;
    }
    let read_timeout = args.read_timeout.max(Duration::from_millis(100));
    let _ = BODY_TIMEOUT.set(read_timeout);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(args.connect_timeout.max(Duration::from_millis(100)))
        .read_timeout(read_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(args.max_attempts))
        .timeout_config(timeouts);
    let custom_endpoint = args.endpoint.as_deref().is_some_and(|e| !e.is_empty());
    if let Some(region) = args.region.as_ref().filter(|r| !r.is_empty()) {
        loader = loader.region(Region::new(region.clone()));
    } else if custom_endpoint {
        // An S3-compatible server has no instance metadata to ask: the SDK's default
        // chain would end at IMDS (timeouts and warnings on every run). AWS_REGION still
        // counts; otherwise the fallback signs the requests.
        loader = loader.region(
            RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                .or_else(Region::new(FALLBACK_REGION)),
        );
    }
    if let Some(path) = &args.ca_bundle {
        let pem = std::fs::read(path)
            .map_err(|e| Error::config(format!("TIDEMARK_S3_CA_BUNDLE {}: {e}", path.display())))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::config(format!(
                "TIDEMARK_S3_CA_BUNDLE {} holds no PEM certificate",
                path.display()
            )));
        }
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::default().with_pem_certificate(pem))
            .build()
            .map_err(|e| Error::config(format!("TIDEMARK_S3_CA_BUNDLE {}: {e}", path.display())))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https();
        loader = loader.http_client(http);
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if shared.region().is_none() {
        config = config.region(Region::new(FALLBACK_REGION));
    }
    if let Some(endpoint) = args.endpoint.as_ref().filter(|e| !e.is_empty()) {
        config = config.endpoint_url(endpoint);
    }
    config = config.force_path_style(args.force_path_style);
    Ok(Client::from_conf(config.build()))
}

/// Refuses an endpoint that is no `http(s)://host[:port][/path]` URL (a configuration
/// error, before any request). The value is shown: an endpoint is no secret, but any
/// user-info in it is cut out.
pub fn check_endpoint(endpoint: &str) -> Result<()> {
    let shown = match endpoint.rsplit_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => endpoint.to_string(),
    };
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?']).next().unwrap_or_default());
    let valid = match host {
        Some(h) => {
            let (name, port) = match h.rsplit_once(':') {
                Some((n, p)) if !n.ends_with(']') || n.starts_with('[') => (n, Some(p)),
                _ => (h, None),
            };
            !name.is_empty()
                && !h.contains('@')
                && !name.chars().any(|c| c.is_whitespace())
                && port.is_none_or(|p| p.parse::<u16>().is_ok())
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::config(format!(
            "TIDEMARK_S3_ENDPOINT `{shown}` is not an http:// or https:// URL with a host \
             (and an optional port)"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn malformed_endpoints_are_configuration_errors() {
        for good in [
            "http://127.0.0.1:8333",
            "https://s3.eu-central-1.amazonaws.com",
            "https://abc.r2.cloudflarestorage.com/",
            "http://[::1]:9000",
        ] {
            assert!(check_endpoint(good).is_ok(), "{good}");
        }
        for bad in [
            "127.0.0.1:8333",
            "http://",
            "http://host:port",
            "ftp://host",
            "http://host name",
            "http://user:pw@host",
        ] {
            let e = check_endpoint(bad).unwrap_err();
            assert_eq!(e.reason(), "InvalidConfig", "{bad}");
            assert!(!e.to_string().contains("pw"), "{e}");
        }
    }
}
