//! The globals object of a backup: the roles and database settings the database needs
//! on a new server ([`crate::pg::globals`]), read inside the dump's snapshot, rendered
//! as a psql script, compressed and encrypted like the data object and stored beside it
//! with the same server-side encryption and storage class and its SHA-256.

use bytes::Bytes;
use tidemark_crd::contract::keys;
use tidemark_crd::contract::manifest::{GlobalsObject, PasswordsTag};

use crate::backup::settings::{Settings, compression_tag};
use crate::error::Result;
use crate::pg::globals::{self, Globals};
use crate::pg::snapshot::SnapshotSession;
use crate::pipeline::small;
use crate::s3::store::{ObjectStore, Put};

/// A captured, encoded globals script ready to upload.
pub struct Prepared {
    pub object: GlobalsObject,
    pub stored: Vec<u8>,
}

/// Reads the globals inside the snapshot and encodes them for `data_key`.
pub async fn prepare(
    settings: &Settings,
    session: &SnapshotSession,
    data_key: &str,
) -> Result<Prepared> {
    let captured: Globals = globals::capture(session.client(), session.describe()).await?;
    let script = globals::render(&captured);
    let stored = small::encode(
        script.as_bytes(),
        &settings.compression,
        &settings.recipients,
    )?;
    let object = GlobalsObject {
        key: keys::globals_key(
            data_key,
            compression_tag(settings.dump.compression),
            !settings.recipients.is_empty(),
        ),
        stored_size: stored.len() as u64,
        raw_size: script.len() as u64,
        sha256: small::sha256_hex(&stored),
        passwords: if captured.passwords {
            PasswordsTag::Included
        } else {
            PasswordsTag::Omitted
        },
        roles: captured.role_names(),
    };
    tracing::info!(key = %object.key, roles = object.roles.len(),
        passwords = ?object.passwords, "globals captured");
    Ok(Prepared { object, stored })
}

/// Stores the prepared object (one request, checksummed by the service).
pub async fn upload(store: &dyn ObjectStore, settings: &Settings, p: &Prepared) -> Result<()> {
    store
        .put(Put {
            key: &p.object.key,
            body: Bytes::from(p.stored.clone()),
            content_type: "application/octet-stream",
            sha256: Some(&p.object.sha256),
            options: &settings.object,
            storage_class: true,
            checksum: true,
        })
        .await
}
