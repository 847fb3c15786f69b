//! The runner's environment, built from a spec. Credentials are only ever references
//! to Secret keys (`valueFrom.secretKeyRef`): the operator never reads them, and they
//! never appear in arguments.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use tidemark_crd::backup_policy::{CompressionAlgorithm, DumpFormat, DumpOptions, RowCountMode};
use tidemark_crd::common::{
    DatabaseConnection, S3Destination, SecretKeyRef, SseAlgorithm, StorageClass,
};

use super::volumes::{DB_CA_PATH, S3_CA_PATH};

/// A plain environment variable.
pub fn value(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// An environment variable taken from a Secret key.
pub fn secret(name: &str, r: &SecretKeyRef) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: r.name.clone(),
                key: r.key.clone(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// libpq-style connection environment (`PG*`, or `TIDEMARK_DATABASE_URL`).
pub fn database(conn: &DatabaseConnection) -> Vec<EnvVar> {
    let mut env = Vec::new();
    if let Some(uri) = &conn.uri_secret_ref {
        env.push(secret("TIDEMARK_DATABASE_URL", uri));
    }
    if let Some(host) = &conn.host {
        env.push(value("PGHOST", host.clone()));
        env.push(value("PGPORT", conn.port.to_string()));
    }
    if let Some(db) = &conn.database {
        env.push(value("PGDATABASE", db.clone()));
    }
    if let Some(user) = &conn.user {
        env.push(value("PGUSER", user.clone()));
    }
    if let Some(user) = &conn.user_secret_ref {
        env.push(secret("PGUSER", user));
    }
    if let Some(password) = &conn.password_secret_ref {
        env.push(secret("PGPASSWORD", password));
    }
    env.push(value("PGSSLMODE", conn.ssl_mode.as_libpq()));
    if conn.ca_secret_ref.is_some() {
        env.push(value("PGSSLROOTCERT", DB_CA_PATH));
    }
    env
}

fn storage_class(class: StorageClass) -> &'static str {
    match class {
        StorageClass::Standard => "STANDARD",
        StorageClass::StandardIa => "STANDARD_IA",
        StorageClass::OnezoneIa => "ONEZONE_IA",
        StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
        StorageClass::GlacierIr => "GLACIER_IR",
        StorageClass::ReducedRedundancy => "REDUCED_REDUNDANCY",
    }
}

/// S3 location, credentials (as Secret references) and object settings.
pub fn s3(dest: &S3Destination) -> Vec<EnvVar> {
    let mut env = vec![
        value("TIDEMARK_S3_BUCKET", dest.bucket.clone()),
        value("TIDEMARK_S3_PREFIX", dest.prefix.clone()),
        value("AWS_REGION", dest.region.clone()),
        value(
            "TIDEMARK_S3_FORCE_PATH_STYLE",
            dest.force_path_style.to_string(),
        ),
    ];
    if let Some(endpoint) = &dest.endpoint {
        env.push(value("TIDEMARK_S3_ENDPOINT", endpoint.clone()));
    }
    if let Some(creds) = &dest.credentials {
        env.push(secret("AWS_ACCESS_KEY_ID", &creds.access_key_id_secret_ref));
        env.push(secret(
            "AWS_SECRET_ACCESS_KEY",
            &creds.secret_access_key_secret_ref,
        ));
        if let Some(token) = &creds.session_token_secret_ref {
            env.push(secret("AWS_SESSION_TOKEN", token));
        }
    }
    let sse = &dest.server_side_encryption;
    let algorithm = match sse.algorithm {
        SseAlgorithm::Aes256 => "AES256",
        SseAlgorithm::AwsKms => "aws:kms",
        SseAlgorithm::None => "none",
    };
    env.push(value("TIDEMARK_S3_SSE", algorithm));
    if let Some(key) = &sse.kms_key_id {
        env.push(value("TIDEMARK_S3_SSE_KMS_KEY_ID", key.clone()));
    }
    env.push(value(
        "TIDEMARK_S3_STORAGE_CLASS",
        storage_class(dest.storage_class),
    ));
    if dest.ca_bundle_secret_ref.is_some() {
        env.push(value("TIDEMARK_S3_CA_BUNDLE", S3_CA_PATH));
    }
    env
}

/// pg_dump, compression and row-count settings of a backup.
pub fn dump(opts: &DumpOptions) -> Vec<EnvVar> {
    let format = match opts.format {
        DumpFormat::Custom => "custom",
        DumpFormat::Plain => "plain",
    };
    let compression = match opts.compression.algorithm {
        CompressionAlgorithm::Zstd => "zstd",
        CompressionAlgorithm::Gzip => "gzip",
        CompressionAlgorithm::None => "none",
    };
    let rows = match opts.row_counts {
        RowCountMode::Exact => "exact",
        RowCountMode::Estimate => "estimate",
        RowCountMode::Off => "off",
    };
    let mut env = vec![
        value("TIDEMARK_DUMP_FORMAT", format),
        value("TIDEMARK_COMPRESSION", compression),
        value("TIDEMARK_ROW_COUNT_MODE", rows),
    ];
    if let Some(level) = opts.compression.level {
        env.push(value("TIDEMARK_COMPRESSION_LEVEL", level.to_string()));
    }
    if let Some(threads) = opts.compression.threads {
        env.push(value("TIDEMARK_COMPRESSION_THREADS", threads.to_string()));
    }
    for (name, list) in [
        ("TIDEMARK_INCLUDE_SCHEMAS", &opts.include_schemas),
        ("TIDEMARK_EXCLUDE_SCHEMAS", &opts.exclude_schemas),
        ("TIDEMARK_INCLUDE_TABLES", &opts.include_tables),
        ("TIDEMARK_EXCLUDE_TABLES", &opts.exclude_tables),
    ] {
        if !list.is_empty() {
            env.push(value(name, list.join(",")));
        }
    }
    env
}
