//! The multipart upload of the data object: create, upload parts concurrently (each
//! with a CRC32C checksum), complete — or abort on any failure, so that nothing
//! half-written ever becomes an object.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{Semaphore, mpsc};

use crate::apply_object_options;
use crate::error::{Error, Result};
use crate::pipeline::sink::Part;
use crate::s3::errors::classify;
use crate::s3::object::ObjectOptions;

/// Content type of backup data objects.
pub const DATA_CONTENT_TYPE: &str = "application/octet-stream";

/// An open multipart upload.
#[derive(Clone, Debug)]
pub struct MultipartUpload {
    client: Client,
    pub bucket: String,
    pub key: String,
    upload_id: String,
}

impl MultipartUpload {
    /// Starts the upload. Doubles as the credentials and bucket check before any dump
    /// work starts.
    pub async fn create(
        client: &Client,
        bucket: &str,
        key: &str,
        opts: &ObjectOptions,
    ) -> Result<Self> {
        let request = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(DATA_CONTENT_TYPE)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C);
        let out = apply_object_options!(request, opts)
            .send()
            .await
            .map_err(|e| classify(e, "CreateMultipartUpload", bucket, key))?;
        let upload_id = out
            .upload_id()
            .ok_or_else(|| Error::S3 {
                operation: "CreateMultipartUpload",
                bucket: bucket.to_string(),
                key: key.to_string(),
                message: "the response has no upload id".into(),
            })?
            .to_string();
        Ok(Self {
            client: client.clone(),
            bucket: bucket.to_string(),
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
    ) -> Result<Vec<CompletedPart>> {
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
        done.sort_by_key(|p: &CompletedPart| p.part_number());
        Ok(done)
    }

    async fn upload_part(&self, part: Part) -> Result<CompletedPart> {
        let Part {
            number,
            data,
            permit,
        } = part;
        let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .content_length(len)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| classify(e, "UploadPart", &self.bucket, &self.key))?;
        drop(permit);
        tracing::debug!(part = number, bytes = len, "part uploaded");
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_string))
            .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_string))
            .build())
    }

    /// Completes the upload: the object appears. When the completion answer is lost or
    /// unreadable (timeouts; some servers answer with a non-standard document), the
    /// object is checked with HeadObject: it counts as complete only if it exists with
    /// exactly `expected_size` bytes.
    pub async fn complete(&self, parts: Vec<CompletedPart>, expected_size: u64) -> Result<()> {
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        let err = classify(err, "CompleteMultipartUpload", &self.bucket, &self.key);
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        match head {
            Ok(h)
                if h.content_length().and_then(|l| u64::try_from(l).ok())
                    == Some(expected_size) =>
            {
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
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        match result {
            Ok(_) => tracing::info!(key = %self.key, "multipart upload aborted"),
            Err(e) => {
                let e = classify(e, "AbortMultipartUpload", &self.bucket, &self.key);
                tracing::warn!(error = %e, "aborting the multipart upload failed");
            }
        }
    }
}
