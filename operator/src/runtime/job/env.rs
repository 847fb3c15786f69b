//! The runner's environment, built from a spec. Credentials are only ever references
//! to Secret keys (`valueFrom.secretKeyRef`): the operator never reads them, and they
//! never appear in arguments.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use tidemark_crd::backup_policy::DumpOptions;
use tidemark_crd::common::{DatabaseConnection, S3Destination, SecretKeyRef};
use tidemark_crd::contract::env as var;

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
        env.push(secret(var::DATABASE_URL, uri));
    }
    if let Some(host) = &conn.host {
        env.push(value(var::PG_HOST, host.clone()));
        env.push(value(var::PG_PORT, conn.port.to_string()));
    }
    if let Some(db) = &conn.database {
        env.push(value(var::PG_DATABASE, db.clone()));
    }
    if let Some(user) = &conn.user {
        env.push(value(var::PG_USER, user.clone()));
    }
    if let Some(user) = &conn.user_secret_ref {
        env.push(secret(var::PG_USER, user));
    }
    if let Some(password) = &conn.password_secret_ref {
        env.push(secret(var::PG_PASSWORD, password));
    }
    env.push(value(var::PG_SSLMODE, conn.ssl_mode.as_libpq()));
    if conn.ca_secret_ref.is_some() {
        env.push(value(var::PG_SSLROOTCERT, DB_CA_PATH));
    }
    env
}

/// S3 location and credentials (as Secret references).
pub fn s3(dest: &S3Destination) -> Vec<EnvVar> {
    let mut env = vec![
        value(var::S3_BUCKET, dest.bucket.clone()),
        value(var::S3_PREFIX, dest.prefix.clone()),
        value(var::AWS_REGION, dest.region.clone()),
        value(var::S3_FORCE_PATH_STYLE, dest.force_path_style.to_string()),
    ];
    if let Some(endpoint) = &dest.endpoint {
        env.push(value(var::S3_ENDPOINT, endpoint.clone()));
    }
    if let Some(creds) = &dest.credentials {
        env.push(secret(
            var::AWS_ACCESS_KEY_ID,
            &creds.access_key_id_secret_ref,
        ));
        env.push(secret(
            var::AWS_SECRET_ACCESS_KEY,
            &creds.secret_access_key_secret_ref,
        ));
        if let Some(token) = &creds.session_token_secret_ref {
            env.push(secret(var::AWS_SESSION_TOKEN, token));
        }
    }
    if dest.ca_bundle_secret_ref.is_some() {
        env.push(value(var::S3_CA_BUNDLE, S3_CA_PATH));
    }
    env
}

/// How written objects are stored (server-side encryption, storage class): only the
/// backup Job writes objects.
pub fn s3_objects(dest: &S3Destination) -> Vec<EnvVar> {
    let sse = &dest.server_side_encryption;
    let mut env = vec![value(var::S3_SSE, sse.algorithm.env_value())];
    if let Some(key) = &sse.kms_key_id {
        env.push(value(var::S3_SSE_KMS_KEY_ID, key.clone()));
    }
    env.push(value(var::S3_STORAGE_CLASS, dest.storage_class.env_value()));
    env
}

/// pg_dump, compression and row-count settings of a backup.
pub fn dump(opts: &DumpOptions) -> Vec<EnvVar> {
    let mut env = vec![
        value(var::DUMP_FORMAT, opts.format.env_value()),
        value(var::COMPRESSION, opts.compression.algorithm.env_value()),
        value(var::ROW_COUNT_MODE, opts.row_counts.env_value()),
    ];
    if let Some(level) = opts.compression.level {
        env.push(value(var::COMPRESSION_LEVEL, level.to_string()));
    }
    if let Some(threads) = opts.compression.threads {
        env.push(value(var::COMPRESSION_THREADS, threads.to_string()));
    }
    for (name, list) in [
        (var::INCLUDE_SCHEMAS, &opts.include_schemas),
        (var::EXCLUDE_SCHEMAS, &opts.exclude_schemas),
        (var::INCLUDE_TABLES, &opts.include_tables),
        (var::EXCLUDE_TABLES, &opts.exclude_tables),
    ] {
        if !list.is_empty() {
            env.push(value(name, list.join(",")));
        }
    }
    env
}
