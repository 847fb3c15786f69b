//! Reading a bucket under a prefix: paginated object listings, multipart-upload
//! listings, and small objects (manifests) read with a size cap.

use futures::StreamExt;

use crate::error::{Error, Result};
use crate::retention::MultipartUpload;
use crate::s3::store::{ListedObject, ObjectStore};

/// Every object whose key starts with `prefix` (deeper "directories" included), in
/// key order, following ListObjectsV2 continuation tokens to the end.
pub async fn list_objects(store: &dyn ObjectStore, prefix: &str) -> Result<Vec<ListedObject>> {
    let mut out = store.list(prefix).await?;
    // The service filters by prefix; a misbehaving one must not widen the scope.
    out.retain(|o| o.key.starts_with(prefix));
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out.dedup_by(|a, b| a.key == b.key);
    Ok(out)
}

/// Every in-progress multipart upload whose key starts with `prefix`, following the
/// key and upload-id markers to the end.
pub async fn list_uploads(store: &dyn ObjectStore, prefix: &str) -> Result<Vec<MultipartUpload>> {
    let mut out = store.list_uploads(prefix).await?;
    out.retain(|u| u.key.starts_with(prefix));
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
pub async fn get_small(store: &dyn ObjectStore, key: &str, cap: u64) -> Result<SmallObject> {
    let mut attempt = 1;
    loop {
        match get_small_once(store, key, cap).await {
            Err(Error::S3 { message, .. }) if attempt < SMALL_READS && message.contains("body") => {
                tracing::warn!(key, attempt, reason = %message, "reading a small object again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn get_small_once(store: &dyn ObjectStore, key: &str, cap: u64) -> Result<SmallObject> {
    let Some(response) = store.get(key).await? else {
        return Ok(SmallObject::Missing);
    };
    if response.size > cap {
        return Ok(SmallObject::TooLarge(response.size));
    }
    let mut body = response.bytes;
    let bucket = store.bucket();
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
    while let Some(chunk) = tokio::time::timeout(crate::s3::client::body_timeout(), body.next())
        .await
        .map_err(|_| stalled())?
        .transpose()
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

/// The size of an object from HeadObject, or `None` when it does not exist.
pub async fn head_size(store: &dyn ObjectStore, key: &str) -> Result<Option<u64>> {
    Ok(store.head(key).await?.map(|h| h.size))
}
