//! Reading a bucket under a prefix: paginated object listings, multipart-upload
//! listings, and small objects (manifests) read with a size cap.

use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::retention::{MultipartUpload, StoredObject};
use crate::s3::errors::classify;

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

impl From<&ListedObject> for StoredObject {
    fn from(o: &ListedObject) -> Self {
        StoredObject {
            key: o.key.clone(),
            last_modified: o.last_modified,
        }
    }
}

/// Every object whose key starts with `prefix` (deeper "directories" included), in
/// key order, following ListObjectsV2 continuation tokens to the end.
pub async fn list_objects(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ListedObject>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| classify(e, "ListObjectsV2", bucket, prefix))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            // The service filters by prefix; a misbehaving one must not widen the scope.
            if !key.starts_with(prefix) {
                continue;
            }
            out.push(ListedObject {
                key: key.to_string(),
                size: object
                    .size()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
                last_modified: object
                    .last_modified()
                    .and_then(to_chrono)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            });
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) && !next.is_empty() => {
                token = Some(next.to_string());
            }
            _ => break,
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out.dedup_by(|a, b| a.key == b.key);
    Ok(out)
}

/// Every in-progress multipart upload whose key starts with `prefix`, following the
/// key and upload-id markers to the end.
pub async fn list_uploads(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<MultipartUpload>> {
    let mut out = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut id_marker: Option<String> = None;
    loop {
        let page = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(id_marker.take())
            .send()
            .await
            .map_err(|e| classify(e, "ListMultipartUploads", bucket, prefix))?;
        for upload in page.uploads() {
            let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            if !key.starts_with(prefix) {
                continue;
            }
            out.push(MultipartUpload {
                key: key.to_string(),
                upload_id: id.to_string(),
                // An upload without a time is treated as brand new: never aborted.
                initiated: upload
                    .initiated()
                    .and_then(to_chrono)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            });
        }
        let next_key = page.next_key_marker().filter(|k| !k.is_empty());
        if page.is_truncated() != Some(true) || next_key.is_none() {
            break;
        }
        key_marker = next_key.map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
    }
    out.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    out.dedup();
    Ok(out)
}

/// What [`get_small`] found.
#[derive(Debug)]
pub enum SmallObject {
    /// The object's bytes.
    Found(Vec<u8>),
    /// The object does not exist (anymore).
    Missing,
    /// The object is larger than the cap; it was not read.
    TooLarge(u64),
}

/// Times a small object whose body broke off is read again.
const SMALL_READS: u32 = 3;

/// Reads a small object (a manifest) whole, refusing objects beyond `cap` bytes so a
/// stray huge object cannot exhaust memory. A body that breaks off or stalls is read
/// again (the SDK retries requests, not bodies), a few times.
pub async fn get_small(client: &Client, bucket: &str, key: &str, cap: u64) -> Result<SmallObject> {
    let mut attempt = 1;
    loop {
        match get_small_once(client, bucket, key, cap).await {
            Err(Error::S3 { message, .. }) if attempt < SMALL_READS && message.contains("body") => {
                tracing::warn!(key, attempt, reason = %message, "reading a small object again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn get_small_once(client: &Client, bucket: &str, key: &str, cap: u64) -> Result<SmallObject> {
    let response = client.get_object().bucket(bucket).key(key).send().await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            if missing {
                return Ok(SmallObject::Missing);
            }
            return Err(classify(e, "GetObject", bucket, key));
        }
    };
    if let Some(len) = response
        .content_length()
        .and_then(|l| u64::try_from(l).ok())
        && len > cap
    {
        return Ok(SmallObject::TooLarge(len));
    }
    let mut body = response.body;
    let mut bytes = Vec::new();
    let stalled = || Error::S3 {
        operation: "GetObject",
        bucket: bucket.to_string(),
        key: key.to_string(),
        message: format!(
            "the body stalled for {:?} (TIDEMARK_S3_READ_TIMEOUT)",
            crate::s3::client::body_timeout()
        ),
    };
    while let Some(chunk) = tokio::time::timeout(crate::s3::client::body_timeout(), body.try_next())
        .await
        .map_err(|_| stalled())?
        .map_err(|e| Error::S3 {
            operation: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            message: format!("reading the body: {e}"),
        })?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > cap {
            return Ok(SmallObject::TooLarge(bytes.len() as u64));
        }
    }
    Ok(SmallObject::Found(bytes))
}

/// An SDK timestamp as a chrono one.
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// The size of an object from HeadObject, or `None` when it does not exist.
pub async fn head_size(client: &Client, bucket: &str, key: &str) -> Result<Option<u64>> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => Ok(Some(
            head.content_length()
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
        )),
        Err(e) => {
            let missing = e.as_service_error().is_some_and(|s| s.is_not_found())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            if missing {
                Ok(None)
            } else {
                Err(classify(e, "HeadObject", bucket, key))
            }
        }
    }
}
