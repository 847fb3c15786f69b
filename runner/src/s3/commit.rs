//! After the data object is complete: record its SHA-256 on it (known only at the end of
//! the stream: as an object tag by default, or in its user metadata by copying the
//! object onto itself server-side), then write the manifest — the commit marker. If
//! either step fails the data object is deleted again.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::s3::object::{ObjectOptions, SHA256_METADATA};
use crate::s3::store::{Conditional, ObjectStore, Put, in_operation};

/// Where the data object's SHA-256 is recorded on the object itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sha256Stamp {
    /// An object tag `sha256`: no data is copied.
    Tag,
    /// User metadata `sha256`, by a server-side copy of the object onto itself.
    Copy,
}

/// Records the data object's SHA-256 on it: as the object tag `sha256=<hex>` (no data
/// is copied), or in its user metadata by a server-side copy onto itself.
pub async fn stamp_sha256(
    store: &dyn ObjectStore,
    stamp: Sha256Stamp,
    key: &str,
    size: u64,
    sha256: &str,
    opts: &ObjectOptions,
    single_copy_max: u64,
) -> Result<()> {
    match stamp {
        Sha256Stamp::Tag => store.tag(key, SHA256_METADATA, sha256).await,
        Sha256Stamp::Copy => {
            store
                .stamp_sha256(key, size, sha256, opts, single_copy_max)
                .await
        }
    }
}

/// A manifest PUT that failed, and whether the manifest is known to be absent (only
/// then may the data object be removed: a manifest must never outlive its data).
#[derive(Debug)]
pub struct ManifestFailure {
    pub error: Error,
    pub absent: bool,
}

/// Writes the manifest object (JSON) beside the data object (whose key the run claimed,
/// see [`claim`]). When the answer is an error (a lost reply, a retry that
/// finds its own earlier write), HeadObject decides: the manifest counts as written when
/// it exists with this body's size and SHA-256 metadata.
pub async fn put_manifest(
    store: &dyn ObjectStore,
    manifest_key: &str,
    body: Vec<u8>,
    sha256: &str,
    opts: &ObjectOptions,
) -> std::result::Result<(), ManifestFailure> {
    let len = body.len() as u64;
    let put = Put {
        key: manifest_key,
        body: Bytes::from(body),
        content_type: "application/json",
        sha256: Some(sha256),
        options: opts,
        storage_class: true,
        checksum: true,
    };
    let Err(error) = store.put(put).await else {
        return Ok(());
    };
    match store.head(manifest_key).await {
        Ok(Some(head)) => {
            if head.size == len && head.sha256.as_deref() == Some(sha256) {
                tracing::warn!(key = %manifest_key, error = %error,
                    "the manifest write answered with an error, but the manifest is stored");
                Ok(())
            } else {
                Err(ManifestFailure {
                    error: Error::Internal(format!(
                        "another writer stored a different manifest at {manifest_key} \
                         ({error})"
                    )),
                    absent: false,
                })
            }
        }
        Ok(None) => Err(ManifestFailure {
            error,
            absent: true,
        }),
        Err(e) => {
            tracing::warn!(key = %manifest_key, error = %e,
                "cannot tell whether the manifest was stored; the data object stays");
            Err(ManifestFailure {
                error,
                absent: false,
            })
        }
    }
}

/// Deletes an object, logging failures (used to undo a data object without manifest).
pub async fn delete_quietly(store: &dyn ObjectStore, key: &str) {
    if let Err(e) = store.delete(key).await {
        tracing::warn!(error = %e, "removing an object failed; prune removes it after the grace period");
    }
}

/// Suffix of the claim object a run writes before it uses a backup key.
pub const CLAIM_SUFFIX: &str = ".claim";

/// What [`claim`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This run owns the key.
    Won,
    /// Another run claimed it first.
    Taken,
}

/// Claims `key` for this run by creating `<key>.claim` only if it does not exist
/// (`If-None-Match: *`, atomic on S3 and compatible stores): of several runs started in
/// the same second exactly one wins. A store that does not implement conditional writes
/// (`NotImplemented`) gets an unconditional write, with a warning.
pub async fn claim(store: &dyn ObjectStore, key: &str, opts: &ObjectOptions) -> Result<Claim> {
    let claim_key = format!("{key}{CLAIM_SUFFIX}");
    // Encrypted like every object, but in the bucket's default storage class: an
    // infrequent-access class would bill each short-lived claim a minimum duration.
    let put = || Put {
        key: &claim_key,
        body: Bytes::from_static(b"claimed by a tidemark backup run\n"),
        content_type: "text/plain",
        sha256: None,
        options: opts,
        storage_class: false,
        checksum: false,
    };
    let label = |e| in_operation(e, "PutObject (claim)");
    match store.put_if_absent(put()).await.map_err(label)? {
        Conditional::Created => Ok(Claim::Won),
        Conditional::Exists => Ok(Claim::Taken),
        Conditional::Unsupported => {
            tracing::warn!(key = %claim_key,
                "the S3 store does not support conditional writes; claiming without");
            store.put(put()).await.map_err(label)?;
            Ok(Claim::Won)
        }
    }
}

/// Removes this run's claim of `key` (best effort; a leftover claim is an orphan that
/// `prune` removes after the grace period).
pub async fn release(store: &dyn ObjectStore, key: &str) {
    delete_quietly(store, &format!("{key}{CLAIM_SUFFIX}")).await;
}
