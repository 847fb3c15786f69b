//! Streaming download of a backup object: one GetObject whose body is passed on chunk by
//! chunk through a bounded channel (back-pressure: the download waits while the restore
//! is busy, so memory stays bounded whatever the object size). A body that breaks off
//! is resumed with a ranged GetObject pinned to the same ETag, a few times.

use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::s3::client::body_timeout;
use crate::s3::errors::classify;

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
    client: Client,
    pub bucket: String,
    pub key: String,
    /// Content length of the object.
    pub size: u64,
    etag: Option<String>,
    body: aws_sdk_s3::primitives::ByteStream,
}

impl Download {
    /// Starts the GetObject (its headers only).
    pub async fn open(client: &Client, bucket: &str, key: &str) -> Result<Self> {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if missing {
                    Error::BackupIncomplete {
                        key: key.to_string(),
                        why: format!("its data object {key} is missing"),
                    }
                } else {
                    classify(e, "GetObject", bucket, key)
                }
            })?;
        let size = out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        Ok(Self {
            client: client.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            size,
            etag: out.e_tag().map(str::to_string),
            body: out.body,
        })
    }

    /// Sends the body to `tx`, resuming a broken body; returns the bytes sent. Stops
    /// quietly (an error) when the receiver is gone.
    pub async fn pump(mut self, tx: mpsc::Sender<Chunk>) -> Result<u64> {
        let mut sent = 0u64;
        let mut resumes = 0;
        loop {
            let next = tokio::time::timeout(body_timeout(), self.body.try_next()).await;
            let Ok(next) = next else {
                if resumes < MAX_RESUMES && sent < self.size {
                    resumes += 1;
                    tracing::warn!(key = %self.key, offset = sent,
                        timeout_ms = body_timeout().as_millis() as u64,
                        "download stalled; resuming");
                    self.body = self.resume(sent).await?;
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
                Ok(Some(bytes)) => {
                    sent += bytes.len() as u64;
                    if tx.send(Chunk::Data(bytes)).await.is_err() {
                        return Err(self.error("the restore stopped reading"));
                    }
                }
                Ok(None) if sent == self.size => break,
                Ok(None) => {
                    return Err(self.error(&format!(
                        "the body ended after {sent} of {} bytes",
                        self.size
                    )));
                }
                Err(e) if resumes < MAX_RESUMES && sent < self.size => {
                    resumes += 1;
                    tracing::warn!(key = %self.key, offset = sent, error = %e,
                        "download broke off; resuming");
                    self.body = self.resume(sent).await?;
                }
                Err(e) => return Err(self.error(&format!("reading the body: {e}"))),
            }
        }
        let _ = tx.send(Chunk::End).await;
        Ok(sent)
    }

    async fn resume(&self, offset: u64) -> Result<aws_sdk_s3::primitives::ByteStream> {
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={offset}-"));
        if let Some(etag) = &self.etag {
            request = request.if_match(etag);
        }
        let out = request
            .send()
            .await
            .map_err(|e| classify(e, "GetObject (resume)", &self.bucket, &self.key))?;
        Ok(out.body)
    }

    fn error(&self, message: &str) -> Error {
        Error::S3 {
            operation: "GetObject",
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            message: message.to_string(),
        }
    }
}
