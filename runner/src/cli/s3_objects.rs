//! How the objects a run writes are stored in S3: server-side encryption, storage
//! class, the copy limit. Only `backup` writes objects, so only its help shows these.

use clap::Args;
use tidemark_crd::contract::env as var;
use tidemark_crd::contract::values::SseAlgorithm;
use tidemark_crd::units::ByteSize;

/// Storage settings of written objects (the data object, its globals and manifest).
#[derive(Debug, Args)]
pub struct S3ObjectArgs {
    /// Server-side encryption of every object of a backup.
    #[arg(
        long = "s3-sse",
        env = var::S3_SSE,
        value_enum,
        default_value = "AES256"
    )]
    pub sse: SseAlgorithm,
    /// KMS key id for `aws:kms` (the bucket's default key when unset).
    #[arg(long = "s3-sse-kms-key-id", env = var::S3_SSE_KMS_KEY_ID)]
    pub sse_kms_key_id: Option<String>,
    /// Storage class of every object of a backup (e.g. STANDARD_IA); the bucket default when unset.
    #[arg(long = "s3-storage-class", env = var::S3_STORAGE_CLASS)]
    pub storage_class: Option<String>,
    /// Largest object whose metadata is stamped with one CopyObject (S3's limit);
    /// larger ones use a multipart copy. Lowered only by tests of that path.
    #[arg(
        long,
        env = var::S3_SINGLE_COPY_MAX,
        default_value = "5GiB",
        hide = true
    )]
    pub single_copy_max: ByteSize,
}
