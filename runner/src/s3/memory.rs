//! An in-memory [`ObjectStore`] for the unit tests of the code above the storage
//! boundary (upload pipeline, inventory, prune). It keeps S3's rules that this code
//! relies on — parts of at least 5 MiB but the last, completion only from stored parts
//! with their ETags, conditional writes, ranged reads pinned to an ETag — and can fail
//! chosen requests. It is no substitute for the real-server tests under `runner/tests/`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::pipeline::part_size::MIN_PART_SIZE;
use crate::retention::MultipartUpload;
use crate::s3::object::ObjectOptions;
use crate::s3::store::{
    Aborted, Body, Conditional, Head, ListedObject, ObjectStore, PartReceipt, Put,
};

/// Size of the chunks a body is streamed in.
const CHUNK: usize = 64 << 10;

/// A stored object.
#[derive(Clone, Debug)]
pub struct Object {
    pub data: Bytes,
    pub etag: String,
    pub sha256: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub last_modified: DateTime<Utc>,
    pub options: ObjectOptions,
}

impl Object {
    fn new(data: Bytes, last_modified: DateTime<Utc>, options: ObjectOptions) -> Self {
        Self {
            etag: etag_of(&data),
            data,
            sha256: None,
            tags: BTreeMap::new(),
            last_modified,
            options,
        }
    }
}

#[derive(Debug)]
struct Upload {
    key: String,
    initiated: DateTime<Utc>,
    options: ObjectOptions,
    parts: BTreeMap<i32, (Bytes, String)>,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<String, Object>,
    uploads: BTreeMap<String, Upload>,
    next_id: u64,
    now: Option<DateTime<Utc>>,
    /// Operation name → calls of it still to let through before one fails.
    faults: BTreeMap<&'static str, usize>,
}

/// The in-memory store of one bucket.
#[derive(Debug)]
pub struct MemoryStore {
    bucket: String,
    state: Mutex<State>,
}

fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(data))[..32])
}

impl MemoryStore {
    pub fn new(bucket: &str) -> Self {
        Self {
            bucket: bucket.to_string(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, operation: &'static str, key: &str, message: &str) -> Error {
        Error::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    /// Fails the request of `operation` (`UploadPart`, `PutObject`, …) after `after`
    /// more successful ones, once.
    pub fn fail(&self, operation: &'static str, after: usize) {
        self.state().faults.insert(operation, after);
    }

    /// The time new objects and uploads get (the wall clock unless set).
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.state().now = Some(now);
    }

    /// Stores an object as if written at `at`.
    pub fn insert(&self, key: &str, data: impl Into<Bytes>, at: DateTime<Utc>) {
        let object = Object::new(data.into(), at, ObjectOptions::default());
        self.state().objects.insert(key.to_string(), object);
    }

    /// Starts a multipart upload as if at `at` (a stale one, for prune).
    pub fn insert_upload(&self, key: &str, at: DateTime<Utc>) -> String {
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("upload-{}", state.next_id);
        state.uploads.insert(
            id.clone(),
            Upload {
                key: key.to_string(),
                initiated: at,
                options: ObjectOptions::default(),
                parts: BTreeMap::new(),
            },
        );
        id
    }

    /// The stored object of `key`.
    pub fn object(&self, key: &str) -> Option<Object> {
        self.state().objects.get(key).cloned()
    }

    /// Every stored key, in order.
    pub fn keys(&self) -> Vec<String> {
        self.state().objects.keys().cloned().collect()
    }

    /// Number of multipart uploads in progress.
    pub fn open_uploads(&self) -> usize {
        self.state().uploads.len()
    }

    /// Counts a call of `operation`; an error when a fault was set for it.
    fn call(&self, operation: &'static str, key: &str) -> Result<MutexGuardState<'_>> {
        let mut state = self.state();
        if let Some(left) = state.faults.get_mut(operation) {
            if *left == 0 {
                state.faults.remove(operation);
                return Err(self.error(operation, key, "InternalError: injected fault (HTTP 500)"));
            }
            *left -= 1;
        }
        Ok(state)
    }

    fn now(state: &State) -> DateTime<Utc> {
        state.now.unwrap_or_else(Utc::now)
    }

    fn body(data: Bytes, etag: String) -> Body {
        let size = data.len() as u64;
        let chunks: Vec<std::result::Result<Bytes, String>> = (0..data.len())
            .step_by(CHUNK)
            .map(|start| Ok(data.slice(start..(start + CHUNK).min(data.len()))))
            .collect();
        Body {
            size,
            etag: Some(etag),
            bytes: Box::pin(futures::stream::iter(chunks)),
        }
    }

    fn store(state: &mut State, key: &str, data: Bytes, options: ObjectOptions) {
        let object = Object::new(data, Self::now(state), options);
        state.objects.insert(key.to_string(), object);
    }
}

type MutexGuardState<'a> = std::sync::MutexGuard<'a, State>;

#[async_trait]
impl ObjectStore for MemoryStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn create_upload(&self, key: &str, options: &ObjectOptions) -> Result<String> {
        let mut state = self.call("CreateMultipartUpload", key)?;
        state.next_id += 1;
        let id = format!("upload-{}", state.next_id);
        let initiated = Self::now(&state);
        state.uploads.insert(
            id.clone(),
            Upload {
                key: key.to_string(),
                initiated,
                options: options.clone(),
                parts: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        data: Bytes,
    ) -> Result<PartReceipt> {
        let mut state = self.call("UploadPart", key)?;
        let Some(upload) = state.uploads.get_mut(upload_id).filter(|u| u.key == key) else {
            return Err(self.error("UploadPart", key, "NoSuchUpload (HTTP 404)"));
        };
        let etag = etag_of(&data);
        upload.parts.insert(number, (data, etag.clone()));
        Ok(PartReceipt {
            number,
            etag: Some(etag),
            crc32c: None,
        })
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartReceipt>,
    ) -> Result<()> {
        let op = "CompleteMultipartUpload";
        let mut state = self.call(op, key)?;
        let Some(upload) = state.uploads.get(upload_id).filter(|u| u.key == key) else {
            return Err(self.error(op, key, "NoSuchUpload (HTTP 404)"));
        };
        if parts.is_empty() || !parts.windows(2).all(|w| w[0].number < w[1].number) {
            return Err(self.error(op, key, "InvalidPartOrder (HTTP 400)"));
        }
        let mut data = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let Some((bytes, etag)) = upload.parts.get(&part.number) else {
                return Err(self.error(op, key, "InvalidPart: not uploaded (HTTP 400)"));
            };
            if part.etag.as_deref() != Some(etag.as_str()) {
                return Err(self.error(op, key, "InvalidPart: ETag differs (HTTP 400)"));
            }
            if i + 1 < parts.len() && (bytes.len() as u64) < MIN_PART_SIZE {
                return Err(self.error(op, key, "EntityTooSmall (HTTP 400)"));
            }
            data.extend_from_slice(bytes);
        }
        let options = upload.options.clone();
        state.uploads.remove(upload_id);
        Self::store(&mut state, key, Bytes::from(data), options);
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<Aborted> {
        let mut state = self.call("AbortMultipartUpload", key)?;
        Ok(match state.uploads.remove(upload_id) {
            Some(_) => Aborted::Aborted,
            None => Aborted::Gone,
        })
    }

    async fn put(&self, put: Put<'_>) -> Result<()> {
        let mut state = self.call("PutObject", put.key)?;
        let mut options = put.options.clone();
        if !put.storage_class {
            options.storage_class = None;
        }
        Self::store(&mut state, put.key, put.body, options);
        if let Some(object) = state.objects.get_mut(put.key) {
            object.sha256 = put.sha256.map(str::to_string);
        }
        Ok(())
    }

    async fn put_if_absent(&self, put: Put<'_>) -> Result<Conditional> {
        if self.state().objects.contains_key(put.key) {
            return Ok(Conditional::Exists);
        }
        self.put(put).await?;
        Ok(Conditional::Created)
    }

    async fn tag(&self, key: &str, name: &str, value: &str) -> Result<()> {
        let mut state = self.call("PutObjectTagging", key)?;
        let Some(object) = state.objects.get_mut(key) else {
            return Err(self.error("PutObjectTagging", key, "NoSuchKey (HTTP 404)"));
        };
        object.tags = BTreeMap::from([(name.to_string(), value.to_string())]);
        Ok(())
    }

    async fn stamp_sha256(
        &self,
        key: &str,
        _size: u64,
        sha256: &str,
        options: &ObjectOptions,
        _single_copy_max: u64,
    ) -> Result<()> {
        let mut state = self.call("CopyObject", key)?;
        let Some(object) = state.objects.get_mut(key) else {
            return Err(self.error("CopyObject", key, "NoSuchKey (HTTP 404)"));
        };
        object.sha256 = Some(sha256.to_string());
        object.options = options.clone();
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<Option<Head>> {
        let state = self.call("HeadObject", key)?;
        Ok(state.objects.get(key).map(|o| Head {
            size: o.data.len() as u64,
            sha256: o.sha256.clone(),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Body>> {
        let state = self.call("GetObject", key)?;
        Ok(state
            .objects
            .get(key)
            .map(|o| Self::body(o.data.clone(), o.etag.clone())))
    }

    async fn get_from(&self, key: &str, offset: u64, etag: Option<&str>) -> Result<Body> {
        let state = self.call("GetObject", key)?;
        let Some(o) = state.objects.get(key) else {
            return Err(self.error("GetObject", key, "NoSuchKey (HTTP 404)"));
        };
        if etag.is_some_and(|e| e != o.etag) {
            return Err(self.error("GetObject", key, "PreconditionFailed (HTTP 412)"));
        }
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(o.data.len());
        Ok(Self::body(o.data.slice(start..), o.etag.clone()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>> {
        let state = self.call("ListObjectsV2", prefix)?;
        Ok(state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, o)| ListedObject {
                key: k.clone(),
                size: o.data.len() as u64,
                last_modified: o.last_modified,
            })
            .collect())
    }

    async fn list_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        let state = self.call("ListMultipartUploads", prefix)?;
        Ok(state
            .uploads
            .iter()
            .filter(|(_, u)| u.key.starts_with(prefix))
            .map(|(id, u)| MultipartUpload {
                key: u.key.clone(),
                upload_id: id.clone(),
                initiated: u.initiated,
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let mut state = self.call("DeleteObject", key)?;
        state.objects.remove(key);
        Ok(())
    }
}
