//! Turning SDK errors into runner errors: refusals that retrying cannot fix
//! (credentials, permissions, missing bucket) become configuration errors, the rest
//! runtime errors. Messages come from the service's error code and message and the
//! error chain; they never contain credentials.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use aws_credential_types::provider::error::CredentialsError;

use crate::error::Error;

/// Service error codes that mean "fix the configuration".
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "InvalidToken",
    "NoSuchBucket",
    "SignatureDoesNotMatch",
    "InvalidStorageClass",
    "KMS.NotFoundException",
    "KMS.DisabledException",
];

/// Classifies an SDK error of `operation` on `bucket`/`key`.
pub fn classify<E>(
    err: SdkError<E, HttpResponse>,
    operation: &'static str,
    bucket: &str,
    key: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if no_credentials(&err) {
        return Error::S3NoCredentials {
            operation,
            bucket: bucket.to_string(),
            key: key.to_string(),
        };
    }
    let code = err.code().map(str::to_string);
    let status = match &err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    let mut message = match (&code, err.message(), status) {
        (Some(c), Some(m), _) => format!("{c}: {m}"),
        (Some(c), None, _) => c.clone(),
        // A HEAD answer has no body, so no error code: say what the status means.
        (None, _, Some(403)) => {
            "AccessDenied: the credentials are wrong or lack permission for this request"
                .to_string()
        }
        (None, _, Some(401)) => "Unauthorized: the credentials were not accepted".to_string(),
        _ => chain(&err),
    };
    if let Some(s) = status {
        message.push_str(&format!(" (HTTP {s})"));
    }
    let denied = code.as_deref().is_some_and(|c| DENIED_CODES.contains(&c))
        || matches!(status, Some(401 | 403))
        || (code.is_none() && message.contains("credentials"));
    if denied {
        Error::S3Denied {
            operation,
            bucket: bucket.to_string(),
            key: key.to_string(),
            message,
        }
    } else {
        Error::S3 {
            operation,
            bucket: bucket.to_string(),
            key: key.to_string(),
            message,
        }
    }
}

/// Whether the request never left because no provider of the SDK's credential chain
/// had any credentials (as opposed to credentials the service refused).
fn no_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) =
            e.downcast_ref::<CredentialsError>()
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Longest message kept from an error chain (the SDK's debug output can hold whole
/// response bodies).
const MAX_CHAIN: usize = 600;

/// `error: source: source…` from Display only, shortened.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    if out.len() > MAX_CHAIN {
        let mut end = MAX_CHAIN;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}
