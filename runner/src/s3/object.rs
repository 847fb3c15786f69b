//! How objects are stored: server-side encryption, storage class and user metadata,
//! the same for the data object and its manifest.

use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};

use tidemark_crd::contract::values::SseAlgorithm;

use crate::error::{Error, Result};
use crate::s3::settings::S3Settings;

/// User-metadata key carrying the SHA-256 of the stored backup bytes.
pub const SHA256_METADATA: &str = "sha256";

/// Storage options applied to every object the runner writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectOptions {
    pub sse: Option<ServerSideEncryption>,
    pub sse_kms_key_id: Option<String>,
    pub storage_class: Option<StorageClass>,
}

impl ObjectOptions {
    /// Validates the object settings of `args`.
    pub fn new(args: &S3Settings) -> Result<Self> {
        let kms_key = args.sse_kms_key_id.clone().filter(|k| !k.is_empty());
        let sse = match args.sse {
            SseAlgorithm::Aes256 => Some(ServerSideEncryption::Aes256),
            SseAlgorithm::AwsKms => Some(ServerSideEncryption::AwsKms),
            SseAlgorithm::None => None,
        };
        if kms_key.is_some() && args.sse != SseAlgorithm::AwsKms {
            return Err(Error::config(
                "TIDEMARK_S3_SSE_KMS_KEY_ID is set but TIDEMARK_S3_SSE is not aws:kms",
            ));
        }
        let storage_class = args
            .storage_class
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                if !StorageClass::values().contains(&s) {
                    Err(Error::config(format!(
                        "TIDEMARK_S3_STORAGE_CLASS `{s}` is not an S3 storage class \
                         (STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, …)"
                    )))
                } else {
                    Ok(StorageClass::from(s))
                }
            })
            .transpose()?;
        Ok(Self {
            sse,
            sse_kms_key_id: kms_key,
            storage_class,
        })
    }
}

/// Applies [`ObjectOptions`] to any S3 fluent builder that has the usual setters.
#[macro_export]
macro_rules! apply_object_options {
    ($builder:expr, $opts:expr) => {{
        let opts: &$crate::s3::object::ObjectOptions = $opts;
        $builder
            .set_server_side_encryption(opts.sse.clone())
            .set_ssekms_key_id(opts.sse_kms_key_id.clone())
            .set_storage_class(opts.storage_class.clone())
    }};
}

/// Percent-encodes a key for `x-amz-copy-source` (everything but unreserved and `/`).
pub fn encode_copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_percent_encoded() {
        assert_eq!(
            encode_copy_source("b", "p x/ns/pol/20260101T000000Z.dump.zst"),
            "b/p%20x/ns/pol/20260101T000000Z.dump.zst"
        );
    }
}
