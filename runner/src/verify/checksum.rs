//! SHA-256 of a stored object, computed from a streaming download in constant memory.

use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::s3::store::ObjectStore;
use crate::signals::Shutdown;

/// What the download measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digested {
    /// Lower-case hex SHA-256 of the bytes read.
    pub sha256: String,
    /// Number of bytes read.
    pub bytes: u64,
}

/// Downloads `bucket`/`key` chunk by chunk, hashing each chunk as it arrives (nothing
/// but the current chunk is held in memory). A signal stops the download.
pub async fn sha256_of(
    store: &dyn ObjectStore,
    key: &str,
    shutdown: &Shutdown,
) -> Result<Digested> {
    let bucket = store.bucket();
    let mut stop = shutdown.clone();
    let response = tokio::select! {
        r = store.get(key) => r?.ok_or_else(|| Error::S3 {
            operation: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            message: "NoSuchKey: the object does not exist (HTTP 404)".into(),
        })?,
        sig = stop.wait() => return Err(Error::Interrupted(sig)),
    };
    let mut body = response.bytes;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    loop {
        let chunk = tokio::select! {
            c = body.next() => c.transpose().map_err(|e| Error::S3 {
                operation: "GetObject",
                bucket: bucket.to_string(),
                key: key.to_string(),
                message: format!("download broke off after {bytes} bytes: {e}"),
            })?,
            () = tokio::time::sleep(crate::s3::client::body_timeout()) => {
                return Err(Error::S3 {
                    operation: "GetObject",
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    message: format!(
                        "the body stalled for {:?} after {bytes} bytes (TIDEMARK_S3_READ_TIMEOUT)",
                        crate::s3::client::body_timeout()
                    ),
                });
            }
            sig = stop.wait() => return Err(Error::Interrupted(sig)),
        };
        let Some(chunk) = chunk else { break };
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
    }
    Ok(Digested {
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}
