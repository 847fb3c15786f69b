//! [`ObjectStore`] on the AWS SDK: one request (or one paginated listing) per method,
//! each error classified by [`classify`]. The only module that makes S3 requests.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective, Tag, Tagging,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::apply_object_options;
use crate::error::{Error, Result};
use crate::retention::MultipartUpload;
use crate::s3::errors::classify;
use crate::s3::object::{ObjectOptions, SHA256_METADATA, encode_copy_source};
use crate::s3::store::{
    Aborted, Body, BodyStream, Conditional, Head, ListedObject, ObjectStore, PartReceipt, Put,
};

/// Content type of backup data objects.
pub const DATA_CONTENT_TYPE: &str = "application/octet-stream";

/// Largest object a single CopyObject may copy.
pub const MAX_SINGLE_COPY: u64 = 5 << 30;
/// Part size of a multipart copy (10,000 of them cover 5 TiB).
const COPY_PART: u64 = 1 << 30;

/// The AWS SDK client on one bucket.
#[derive(Clone, Debug)]
pub struct SdkStore {
    client: Client,
    bucket: String,
}

impl SdkStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// Whether an SDK error says the object does not exist (HEAD answers carry no code).
fn is_missing<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    e.code()
        .is_some_and(|c| c == "NoSuchKey" || c == "NotFound")
        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
}

fn size_of(length: Option<i64>) -> u64 {
    length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0)
}

/// An SDK timestamp as a chrono one.
fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// A GetObject answer: its length, ETag and body as a stream of chunks.
fn body_of(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Body {
    Body {
        size: size_of(out.content_length()),
        etag: out.e_tag().map(str::to_string),
        bytes: body_stream(out.body),
    }
}

fn body_stream(body: ByteStream) -> BodyStream {
    Box::pin(futures::stream::unfold(body, |mut body| async move {
        match body.try_next().await {
            Ok(Some(bytes)) => Some((Ok(bytes), body)),
            Ok(None) => None,
            Err(e) => Some((Err(e.to_string()), body)),
        }
    }))
}

#[async_trait]
impl ObjectStore for SdkStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn create_upload(&self, key: &str, opts: &ObjectOptions) -> Result<String> {
        let bucket = self.bucket.as_str();
        let request = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(DATA_CONTENT_TYPE)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C);
        let out = apply_object_options!(request, opts)
            .send()
            .await
            .map_err(|e| classify(e, "CreateMultipartUpload", bucket, key))?;
        Ok(out
            .upload_id()
            .ok_or_else(|| Error::S3 {
                operation: "CreateMultipartUpload",
                bucket: bucket.to_string(),
                key: key.to_string(),
                message: "the response has no upload id".into(),
            })?
            .to_string())
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        data: Bytes,
    ) -> Result<PartReceipt> {
        let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(len)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| classify(e, "UploadPart", &self.bucket, key))?;
        Ok(PartReceipt {
            number,
            etag: out.e_tag().map(str::to_string),
            crc32c: out.checksum_crc32_c().map(str::to_string),
        })
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartReceipt>,
    ) -> Result<()> {
        let parts = parts
            .into_iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .set_e_tag(p.etag)
                    .set_checksum_crc32_c(p.crc32c)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(e, "CompleteMultipartUpload", &self.bucket, key))?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<Aborted> {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Aborted::Aborted),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => {
                Ok(Aborted::Gone)
            }
            Err(e) => Err(classify(e, "AbortMultipartUpload", &self.bucket, key)),
        }
    }

    async fn put(&self, put: Put<'_>) -> Result<()> {
        let key = put.key;
        self.put_request(put, false)
            .send()
            .await
            .map_err(|e| classify(e, "PutObject", &self.bucket, key))?;
        Ok(())
    }

    async fn put_if_absent(&self, put: Put<'_>) -> Result<Conditional> {
        let key = put.key;
        match self.put_request(put, true).send().await {
            Ok(_) => Ok(Conditional::Created),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.code().map(str::to_string);
                if status == Some(412) || code.as_deref() == Some("PreconditionFailed") {
                    return Ok(Conditional::Exists);
                }
                if status == Some(501) || code.as_deref() == Some("NotImplemented") {
                    return Ok(Conditional::Unsupported);
                }
                Err(classify(e, "PutObject", &self.bucket, key))
            }
        }
    }

    async fn tag(&self, key: &str, name: &str, value: &str) -> Result<()> {
        let tag = Tag::builder()
            .key(name)
            .value(value)
            .build()
            .map_err(|e| Error::Internal(format!("building the {name} tag: {e}")))?;
        let tagging = Tagging::builder()
            .tag_set(tag)
            .build()
            .map_err(|e| Error::Internal(format!("building the tag set: {e}")))?;
        self.client
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| classify(e, "PutObjectTagging", &self.bucket, key))?;
        Ok(())
    }

    async fn stamp_sha256(
        &self,
        key: &str,
        size: u64,
        sha256: &str,
        opts: &ObjectOptions,
        single_copy_max: u64,
    ) -> Result<()> {
        let (client, bucket) = (&self.client, self.bucket.as_str());
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
        match self.copy_parts(key, &source, &upload_id, size).await {
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

    async fn head(&self, key: &str) -> Result<Option<Head>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(Head {
                size: size_of(head.content_length()),
                sha256: head
                    .metadata()
                    .and_then(|m| m.get(SHA256_METADATA))
                    .cloned(),
            })),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(classify(e, "HeadObject", &self.bucket, key)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Body>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(body_of(out))),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(classify(e, "GetObject", &self.bucket, key)),
        }
    }

    async fn get_from(&self, key: &str, offset: u64, etag: Option<&str>) -> Result<Body> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={offset}-"))
            .set_if_match(etag.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify(e, "GetObject", &self.bucket, key))?;
        Ok(body_of(out))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify(e, "ListObjectsV2", &self.bucket, prefix))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                out.push(ListedObject {
                    key: key.to_string(),
                    size: size_of(object.size()),
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
        Ok(out)
    }

    async fn list_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        let mut out = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut id_marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| classify(e, "ListMultipartUploads", &self.bucket, prefix))?;
            for upload in page.uploads() {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
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
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(e, "DeleteObject", &self.bucket, key))?;
        Ok(())
    }
}

impl SdkStore {
    /// The PutObject request of `put`, conditional on the key being unused or not.
    fn put_request(
        &self,
        put: Put<'_>,
        if_absent: bool,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        let opts = put.options;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(put.key)
            .content_type(put.content_type)
            .set_if_none_match(if_absent.then(|| "*".to_string()))
            .set_server_side_encryption(opts.sse.clone())
            .set_ssekms_key_id(opts.sse_kms_key_id.clone());
        if let Some(sha256) = put.sha256 {
            request = request.metadata(SHA256_METADATA, sha256);
        }
        if put.storage_class {
            request = request.set_storage_class(opts.storage_class.clone());
        }
        if put.checksum {
            request = request.checksum_algorithm(ChecksumAlgorithm::Crc32C);
        }
        request.body(ByteStream::from(put.body))
    }

    async fn copy_parts(
        &self,
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
            let out = self
                .client
                .upload_part_copy()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| classify(e, "UploadPartCopy", &self.bucket, key))?;
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
}
