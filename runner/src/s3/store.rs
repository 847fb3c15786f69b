//! The storage boundary: the few object-store operations the runner uses, on one bucket.
//! [`crate::s3::sdk::SdkStore`] implements them with the AWS SDK (the only code that
//! names it); the in-memory store of the unit tests implements them in a map. Everything
//! above this trait (upload, commit, download, listing, inventory, prune, verify) is
//! written against it.
//!
//! Errors are runner errors already classified ([`Error::S3Denied`] for refusals that
//! retrying cannot fix, [`Error::S3`] otherwise, with the operation, bucket and key).
//! The answers the runner acts on are values, not errors: a missing object is `None`, a
//! conditional write that lost is [`Conditional::Exists`], an upload that is already
//! gone is [`Aborted::Gone`].

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::retention::{MultipartUpload, StoredObject};
use crate::s3::object::ObjectOptions;

/// A shared handle on the store of a run.
pub type Store = Arc<dyn ObjectStore>;

/// The bytes of a body as they arrive; an `Err` (the transport's message) ends it.
pub type BodyStream = BoxStream<'static, std::result::Result<Bytes, String>>;

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

/// What HeadObject tells about an existing object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    /// The `sha256` user metadata, when the object has it.
    pub sha256: Option<String>,
}

/// An object whose GetObject answered: its headers and its body.
pub struct Body {
    /// Content length of this answer (of the rest, for a ranged read).
    pub size: u64,
    pub etag: Option<String>,
    pub bytes: BodyStream,
}

/// A single-request write of a small object.
#[derive(Clone, Debug)]
pub struct Put<'a> {
    pub key: &'a str,
    pub body: Bytes,
    pub content_type: &'static str,
    /// Stored as the `sha256` user metadata.
    pub sha256: Option<&'a str>,
    pub options: &'a ObjectOptions,
    /// Apply the storage class too (else only the encryption settings).
    pub storage_class: bool,
    /// Ask the service to check the body with a CRC32C checksum.
    pub checksum: bool,
}

/// What a conditional write (`If-None-Match: *`) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conditional {
    /// The object was created.
    Created,
    /// The object already existed; nothing was written.
    Exists,
    /// The store does not implement conditional writes; nothing was written.
    Unsupported,
}

/// What aborting a multipart upload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aborted {
    Aborted,
    /// The upload no longer exists (completed or aborted meanwhile).
    Gone,
}

/// A stored part of a multipart upload, as the completion needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartReceipt {
    /// 1-based part number.
    pub number: i32,
    pub etag: Option<String>,
    pub crc32c: Option<String>,
}

/// The object-store operations of the runner, on one bucket.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The bucket (for messages and logs).
    fn bucket(&self) -> &str;

    /// Starts a multipart upload of a data object; returns its upload id.
    async fn create_upload(&self, key: &str, options: &ObjectOptions) -> Result<String>;

    /// Stores one part of an upload.
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        data: Bytes,
    ) -> Result<PartReceipt>;

    /// Completes an upload from its parts (ascending part numbers): the object appears.
    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartReceipt>,
    ) -> Result<()>;

    /// Aborts an upload, discarding its parts.
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<Aborted>;

    /// Writes a small object in one request.
    async fn put(&self, put: Put<'_>) -> Result<()>;

    /// Writes a small object only if no object has its key.
    async fn put_if_absent(&self, put: Put<'_>) -> Result<Conditional>;

    /// Sets the object's tag set to this one tag.
    async fn tag(&self, key: &str, name: &str, value: &str) -> Result<()>;

    /// Replaces the object's user metadata with `sha256` by copying the object onto
    /// itself server-side (a multipart copy beyond `single_copy_max` bytes).
    async fn stamp_sha256(
        &self,
        key: &str,
        size: u64,
        sha256: &str,
        options: &ObjectOptions,
        single_copy_max: u64,
    ) -> Result<()>;

    /// HeadObject: `None` when the object does not exist.
    async fn head(&self, key: &str) -> Result<Option<Head>>;

    /// GetObject of the whole object: `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<Body>>;

    /// GetObject of the bytes from `offset` on, only if the object still has `etag`.
    async fn get_from(&self, key: &str, offset: u64, etag: Option<&str>) -> Result<Body>;

    /// Every object whose key starts with `prefix`, following continuation tokens.
    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>>;

    /// Every in-progress multipart upload whose key starts with `prefix`.
    async fn list_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>>;

    /// Deletes an object (deleting a missing object succeeds).
    async fn delete(&self, key: &str) -> Result<()>;
}

/// The same error for another operation name (`PutObject` → `PutObject (claim)`), so a
/// message says which step of the runner made the request.
pub fn in_operation(error: Error, name: &'static str) -> Error {
    match error {
        Error::S3 {
            bucket,
            key,
            message,
            ..
        } => Error::S3 {
            operation: name,
            bucket,
            key,
            message,
        },
        Error::S3Denied {
            bucket,
            key,
            message,
            ..
        } => Error::S3Denied {
            operation: name,
            bucket,
            key,
            message,
        },
        Error::S3NoCredentials { bucket, key, .. } => Error::S3NoCredentials {
            operation: name,
            bucket,
            key,
        },
        other => other,
    }
}
