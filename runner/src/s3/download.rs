//! Streaming download of a backup object: one GetObject whose body is passed on chunk by
//! chunk through a bounded channel (back-pressure: the download waits while the restore
//! is busy, so memory stays bounded whatever the object size). A body that breaks off
//! is resumed with a ranged GetObject pinned to the same ETag, a few times.

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::s3::client::body_timeout;
use crate::s3::store::{BodyStream, Store, in_operation};

/// Chunks in flight between the download and the stream thread.
pub const CHANNEL_CHUNKS: usize = 32;

/// Times a broken body is resumed with a ranged request.
const MAX_RESUMES: u32 = 3;

/// What the download hands to the stream thread.
#[derive(Debug)]
pub enum Chunk {
    Data(Bytes),
    /// Every byte of the object was sent. A channel that closes without `End` means
    /// the download failed or was cancelled.
    End,
}

/// An object whose GetObject answered.
pub struct Download {
    store: Store,
    pub key: String,
    /// Content length of the object.
    pub size: u64,
    etag: Option<String>,
    body: BodyStream,
}

impl Download {
    /// Starts the GetObject (its headers only).
    pub async fn open(store: &Store, key: &str) -> Result<Self> {
        let Some(out) = store.get(key).await? else {
            return Err(Error::BackupIncomplete {
                key: key.to_string(),
                why: format!("its data object {key} is missing"),
            });
        };
        Ok(Self {
            store: store.clone(),
            key: key.to_string(),
            size: out.size,
            etag: out.etag,
            body: out.bytes,
        })
    }

    /// Sends the body to `tx`, resuming a broken body; returns the bytes sent. Stops
    /// quietly (an error) when the receiver is gone.
    pub async fn pump(mut self, tx: mpsc::Sender<Chunk>) -> Result<u64> {
        let mut sent = 0u64;
        let mut resumes = 0;
        loop {
            let next = tokio::time::timeout(body_timeout(), self.body.next()).await;
            let Ok(next) = next else {
                if resumes < MAX_RESUMES && sent < self.size {
                    resumes += 1;
                    tracing::warn!(key = %self.key, offset = sent,
                        timeout_ms = body_timeout().as_millis() as u64,
                        "download stalled; resuming");
                    self.body = resume(&self.store, &self.key, self.etag.as_deref(), sent).await?;
                    continue;
                }
                return Err(self.error(&format!(
                    "the body stalled for {:?} after {sent} of {} bytes \
                     (TIDEMARK_S3_READ_TIMEOUT)",
                    body_timeout(),
                    self.size
                )));
            };
            match next {
                Some(Ok(bytes)) => {
                    sent += bytes.len() as u64;
                    if tx.send(Chunk::Data(bytes)).await.is_err() {
                        return Err(self.error("the restore stopped reading"));
                    }
                }
                None if sent == self.size => break,
                None => {
                    return Err(self.error(&format!(
                        "the body ended after {sent} of {} bytes",
                        self.size
                    )));
                }
                Some(Err(e)) if resumes < MAX_RESUMES && sent < self.size => {
                    resumes += 1;
                    tracing::warn!(key = %self.key, offset = sent, error = %e,
                        "download broke off; resuming");
                    self.body = resume(&self.store, &self.key, self.etag.as_deref(), sent).await?;
                }
                Some(Err(e)) => return Err(self.error(&format!("reading the body: {e}"))),
            }
        }
        let _ = tx.send(Chunk::End).await;
        Ok(sent)
    }

    fn error(&self, message: &str) -> Error {
        Error::S3 {
            operation: "GetObject",
            bucket: self.store.bucket().to_string(),
            key: self.key.clone(),
            message: message.to_string(),
        }
    }
}

/// The rest of `key` from `offset` on, pinned to the ETag of the first answer (a free
/// function: the download itself is not shared between threads).
async fn resume(store: &Store, key: &str, etag: Option<&str>, offset: u64) -> Result<BodyStream> {
    let out = store
        .get_from(key, offset, etag)
        .await
        .map_err(|e| in_operation(e, "GetObject (resume)"))?;
    Ok(out.bytes)
}
