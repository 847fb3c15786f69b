//! Where backups live in S3 and how the client reaches it: the validated S3 settings
//! every subcommand gets from the command line.

use std::path::PathBuf;
use std::time::Duration;

use tidemark_crd::contract::values::SseAlgorithm;

/// The S3 settings of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix under which `<namespace>/<policy>/` lives.
    pub prefix: String,
    pub region: Option<String>,
    /// Custom endpoint URL (SeaweedFS, MinIO, Spaces, R2, …).
    pub endpoint: Option<String>,
    pub force_path_style: bool,
    /// PEM bundle of CA certificates trusted for the endpoint.
    pub ca_bundle: Option<PathBuf>,
    /// Server-side encryption of written objects (checked by
    /// [`ObjectOptions::new`](crate::s3::object::ObjectOptions::new) where objects are
    /// written).
    pub sse: SseAlgorithm,
    pub sse_kms_key_id: Option<String>,
    pub storage_class: Option<String>,
    /// Largest object stamped with one CopyObject.
    pub single_copy_max: u64,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Attempts per request (1 = no retry).
    pub max_attempts: u32,
}
