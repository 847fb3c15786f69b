//! After the data object is complete: record its SHA-256 on it (known only at the end of
//! the stream: as an object tag by default, or in its user metadata by copying the
//! object onto itself server-side), then write the manifest — the commit marker. If
//! either step fails the data object is deleted again.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective, Tag, Tagging,
};

use crate::apply_object_options;
use crate::error::{Error, Result};
use crate::s3::errors::classify;
use crate::s3::object::{ObjectOptions, SHA256_METADATA, encode_copy_source};
use crate::s3::upload::DATA_CONTENT_TYPE;

/// Largest object a single CopyObject may copy.
pub const MAX_SINGLE_COPY: u64 = 5 << 30;
/// Part size of a multipart copy (10,000 of them cover 5 TiB).
const COPY_PART: u64 = 1 << 30;

/// Tags the data object with its SHA-256 (`sha256=<hex>`); no data is copied.
pub async fn tag_sha256(client: &Client, bucket: &str, key: &str, sha256: &str) -> Result<()> {
    let tag = Tag::builder()
        .key(SHA256_METADATA)
        .value(sha256)
        .build()
        .map_err(|e| crate::error::Error::Internal(format!("building the sha256 tag: {e}")))?;
    let tagging = Tagging::builder()
        .tag_set(tag)
        .build()
        .map_err(|e| crate::error::Error::Internal(format!("building the tag set: {e}")))?;
    client
        .put_object_tagging()
        .bucket(bucket)
        .key(key)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| classify(e, "PutObjectTagging", bucket, key))?;
    Ok(())
}

/// Replaces the data object's user metadata with its SHA-256.
pub async fn stamp_sha256(
    client: &Client,
    bucket: &str,
    key: &str,
    size: u64,
    sha256: &str,
    opts: &ObjectOptions,
    single_copy_max: u64,
) -> Result<()> {
    let source = encode_copy_source(bucket, key);
    if size <= single_copy_max.min(MAX_SINGLE_COPY) {
        let request = client
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(&source)
            .metadata_directive(MetadataDirective::Replace)
            .metadata(SHA256_METADATA, sha256)
            .content_type(DATA_CONTENT_TYPE);
        apply_object_options!(request, opts)
            .send()
            .await
            .map_err(|e| classify(e, "CopyObject", bucket, key))?;
        return Ok(());
    }
    // Beyond 5 GiB S3 needs a multipart copy.
    let request = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .metadata(SHA256_METADATA, sha256)
        .content_type(DATA_CONTENT_TYPE);
    let created = apply_object_options!(request, opts)
        .send()
        .await
        .map_err(|e| classify(e, "CreateMultipartUpload (copy)", bucket, key))?;
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let result = copy_parts(client, bucket, key, &source, &upload_id, size).await;
    match result {
        Ok(parts) => {
            client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| classify(e, "CompleteMultipartUpload (copy)", bucket, key))?;
            Ok(())
        }
        Err(e) => {
            let _ = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            Err(e)
        }
    }
}

async fn copy_parts(
    client: &Client,
    bucket: &str,
    key: &str,
    source: &str,
    upload_id: &str,
    size: u64,
) -> Result<Vec<CompletedPart>> {
    let part = COPY_PART.max(size.div_ceil(10_000));
    let mut parts = Vec::new();
    let mut start = 0u64;
    let mut number = 1i32;
    while start < size {
        let end = (start + part).min(size) - 1;
        let out = client
            .upload_part_copy()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(source)
            .copy_source_range(format!("bytes={start}-{end}"))
            .send()
            .await
            .map_err(|e| classify(e, "UploadPartCopy", bucket, key))?;
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_string);
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(etag)
                .build(),
        );
        start = end + 1;
        number += 1;
    }
    Ok(parts)
}

/// A manifest PUT that failed, and whether the manifest is known to be absent (only
/// then may the data object be removed: a manifest must never outlive its data).
#[derive(Debug)]
pub struct ManifestFailure {
    pub error: Error,
    pub absent: bool,
}

/// Writes the manifest object (JSON) beside the data object (whose key the run claimed,
/// see [`claim`]). When the answer is an error (a lost reply, a retry that
/// finds its own earlier write), HeadObject decides: the manifest counts as written when
/// it exists with this body's size and SHA-256 metadata.
pub async fn put_manifest(
    client: &Client,
    bucket: &str,
    manifest_key: &str,
    body: Vec<u8>,
    sha256: &str,
    opts: &ObjectOptions,
) -> std::result::Result<(), ManifestFailure> {
    let len = body.len() as u64;
    let request = client
        .put_object()
        .bucket(bucket)
        .key(manifest_key)
        .content_type("application/json")
        .metadata(SHA256_METADATA, sha256)
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(body));
    let Err(err) = apply_object_options!(request, opts).send().await else {
        return Ok(());
    };
    let error = classify(err, "PutObject", bucket, manifest_key);
    match client
        .head_object()
        .bucket(bucket)
        .key(manifest_key)
        .send()
        .await
    {
        Ok(head) => {
            let same_size = head.content_length().and_then(|l| u64::try_from(l).ok()) == Some(len);
            let same_hash = head
                .metadata()
                .and_then(|m| m.get(SHA256_METADATA))
                .is_some_and(|h| h == sha256);
            if same_size && same_hash {
                tracing::warn!(key = %manifest_key, error = %error,
                    "the manifest write answered with an error, but the manifest is stored");
                Ok(())
            } else {
                Err(ManifestFailure {
                    error: Error::Internal(format!(
                        "another writer stored a different manifest at {manifest_key} \
                         ({error})"
                    )),
                    absent: false,
                })
            }
        }
        Err(e) => {
            let absent = e.as_service_error().is_some_and(|s| s.is_not_found())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            if !absent {
                let e = classify(e, "HeadObject", bucket, manifest_key);
                tracing::warn!(key = %manifest_key, error = %e,
                    "cannot tell whether the manifest was stored; the data object stays");
            }
            Err(ManifestFailure { error, absent })
        }
    }
}

/// Deletes an object, logging failures (used to undo a data object without manifest).
pub async fn delete_quietly(client: &Client, bucket: &str, key: &str) {
    if let Err(e) = client.delete_object().bucket(bucket).key(key).send().await {
        let e = classify(e, "DeleteObject", bucket, key);
        tracing::warn!(error = %e, "removing an object failed; prune removes it after the grace period");
    }
}

/// Suffix of the claim object a run writes before it uses a backup key.
pub const CLAIM_SUFFIX: &str = ".claim";

/// What [`claim`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This run owns the key.
    Won,
    /// Another run claimed it first.
    Taken,
}

/// Claims `key` for this run by creating `<key>.claim` only if it does not exist
/// (`If-None-Match: *`, atomic on S3 and compatible stores): of several runs started in
/// the same second exactly one wins. A store that does not implement conditional writes
/// (`NotImplemented`) gets an unconditional write, with a warning.
pub async fn claim(
    client: &Client,
    bucket: &str,
    key: &str,
    opts: &ObjectOptions,
) -> Result<Claim> {
    let claim_key = format!("{key}{CLAIM_SUFFIX}");
    let put = |conditional: bool| {
        let request = client
            .put_object()
            .bucket(bucket)
            .key(&claim_key)
            .content_type("text/plain")
            .set_if_none_match(conditional.then(|| "*".to_string()))
            .body(ByteStream::from_static(
                b"claimed by a tidemark backup run\n",
            ));
        // Encrypted like every object, but in the bucket's default storage class: an
        // infrequent-access class would bill each short-lived claim a minimum duration.
        request
            .set_server_side_encryption(opts.sse.clone())
            .set_ssekms_key_id(opts.sse_kms_key_id.clone())
            .send()
    };
    match put(true).await {
        Ok(_) => Ok(Claim::Won),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = e.code().map(str::to_string);
            if status == Some(412) || code.as_deref() == Some("PreconditionFailed") {
                return Ok(Claim::Taken);
            }
            if status == Some(501) || code.as_deref() == Some("NotImplemented") {
                tracing::warn!(key = %claim_key,
                    "the S3 store does not support conditional writes; claiming without");
                put(false)
                    .await
                    .map_err(|e| classify(e, "PutObject (claim)", bucket, &claim_key))?;
                return Ok(Claim::Won);
            }
            Err(classify(e, "PutObject (claim)", bucket, &claim_key))
        }
    }
}

/// Removes this run's claim of `key` (best effort; a leftover claim is an orphan that
/// `prune` removes after the grace period).
pub async fn release(client: &Client, bucket: &str, key: &str) {
    delete_quietly(client, bucket, &format!("{key}{CLAIM_SUFFIX}")).await;
}
