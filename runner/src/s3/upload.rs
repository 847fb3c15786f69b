//! The multipart upload of the data object: create, upload parts concurrently (each
//! with a CRC32C checksum), complete — or abort on any failure, so that nothing
//! half-written ever becomes an object.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{Semaphore, mpsc};

use crate::error::Result;
use crate::pipeline::sink::Part;
use crate::s3::object::ObjectOptions;
use crate::s3::store::{Aborted, PartReceipt, Store};

/// An open multipart upload.
#[derive(Clone)]
pub struct MultipartUpload {
    store: Store,
    pub key: String,
    upload_id: String,
}

impl MultipartUpload {
    /// Starts the upload. Doubles as the credentials and bucket check before any dump
    /// work starts.
    pub async fn create(store: &Store, key: &str, opts: &ObjectOptions) -> Result<Self> {
        let upload_id = store.create_upload(key, opts).await?;
        Ok(Self {
            store: store.clone(),
            key: key.to_string(),
            upload_id,
        })
    }

    /// Uploads every part arriving on `parts` until the channel closes, several at a
    /// time (as many as `permits` let the producer fill). On the first failure the
    /// semaphore is closed, which stops the producer, and the error is returned.
    pub async fn upload_parts(
        &self,
        mut parts: mpsc::UnboundedReceiver<Part>,
        permits: Arc<Semaphore>,
    ) -> Result<Vec<PartReceipt>> {
        let mut running = FuturesUnordered::new();
        let mut done = Vec::new();
        let mut open = true;
        while open || !running.is_empty() {
            tokio::select! {
                part = parts.recv(), if open => match part {
                    Some(part) => running.push(self.upload_part(part)),
                    None => open = false,
                },
                Some(result) = running.next(), if !running.is_empty() => match result {
                    Ok(completed) => done.push(completed),
                    Err(e) => {
                        permits.close();
                        return Err(e);
                    }
                },
            }
        }
        done.sort_by_key(|p: &PartReceipt| p.number);
        Ok(done)
    }

    async fn upload_part(&self, part: Part) -> Result<PartReceipt> {
        let Part {
            number,
            data,
            permit,
        } = part;
        let len = data.len();
        let receipt = self
            .store
            .upload_part(&self.key, &self.upload_id, number, data)
            .await?;
        drop(permit);
        tracing::debug!(part = number, bytes = len, "part uploaded");
        Ok(receipt)
    }

    /// Completes the upload: the object appears. When the completion answer is lost or
    /// unreadable (timeouts; some servers answer with a non-standard document), the
    /// object is checked with HeadObject: it counts as complete only if it exists with
    /// exactly `expected_size` bytes.
    pub async fn complete(&self, parts: Vec<PartReceipt>, expected_size: u64) -> Result<()> {
        let Err(err) = self
            .store
            .complete_upload(&self.key, &self.upload_id, parts)
            .await
        else {
            return Ok(());
        };
        match self.store.head(&self.key).await {
            Ok(Some(h)) if h.size == expected_size => {
                tracing::warn!(error = %err,
                    "completion answer unreadable, but the object exists with the expected size");
                Ok(())
            }
            _ => Err(err),
        }
    }

    /// Aborts the upload, discarding stored parts. Failures are logged: a bucket
    /// lifecycle rule (AbortIncompleteMultipartUpload) and `prune` clean up leftovers.
    pub async fn abort(&self) {
        match self.store.abort_upload(&self.key, &self.upload_id).await {
            Ok(Aborted::Aborted) => tracing::info!(key = %self.key, "multipart upload aborted"),
            Ok(Aborted::Gone) => {
                tracing::warn!(key = %self.key, "aborting the multipart upload failed: it no longer exists")
            }
            Err(e) => tracing::warn!(error = %e, "aborting the multipart upload failed"),
        }
    }
}
