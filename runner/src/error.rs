//! The runner's error type. Every variant knows its contract [`ErrorKind`] (and so its
//! exit code) and a short machine-readable reason. Messages carry context (what was
//! being done, which key or host) and never a secret: no passwords, no URIs with
//! credentials, no environment values of credentials.

use std::path::PathBuf;

use tidemark_crd::contract::env as var;
use tidemark_crd::contract::result::ErrorKind;

/// Result alias used throughout the runner.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can make a runner command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or malformed.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// No client tool new enough for the server (and the archive) is installed.
    #[error(
        "PostgreSQL server major {major} needs {tool} of major {needed} or newer, and {root} \
         has none (installed: {installed}); an older {tool} cannot work with a newer server \
         or archive: install that major's client binaries or set TIDEMARK_PG_BIN_ROOT"
    )]
    PgDumpMissing {
        tool: &'static str,
        major: String,
        needed: String,
        root: PathBuf,
        installed: String,
    },

    /// The backup comes from a newer PostgreSQL major than the restore's target server:
    /// refused before anything changes.
    #[error(
        "backup {key} was taken from PostgreSQL {backup_major} and the target server runs \
         PostgreSQL {target_major}: a dump restores only into the same or a newer major; \
         nothing was changed: restore into a server of PostgreSQL {backup_major} or newer"
    )]
    TargetServerTooOld {
        key: String,
        backup_major: u32,
        target_major: u32,
    },

    /// A data-only restore's preflight: the target lacks tables the restore would write
    /// (found before anything is stopped or changed).
    #[error(
        "data-only restore into database {database:?}: the target lacks {count} table(s) \
         the restore writes ({shown}){new}; nothing was touched: create them first (a \
         schema-only or full restore), restore only tables the target has (mode.tables), \
         or choose another target"
    , new = if *exists { "" } else { ", as the database does not exist yet" })]
    TargetTablesMissing {
        database: String,
        exists: bool,
        shown: String,
        count: usize,
    },

    /// Connecting to or querying PostgreSQL failed.
    #[error("PostgreSQL ({context}): {message}")]
    Postgres { context: String, message: String },

    /// The PostgreSQL server rejected the credentials or the database does not exist.
    #[error("PostgreSQL rejected the connection ({context}): {message}")]
    PostgresAuth { context: String, message: String },

    /// `pg_dump` could not be started or ended unsuccessfully.
    #[error("pg_dump failed: {0}")]
    PgDump(String),

    /// The S3 service refused the request in a way retrying cannot fix
    /// (credentials, permissions, missing bucket).
    #[error("S3 refused {operation} on s3://{bucket}/{key}: {message}")]
    S3Denied {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },

    /// No S3 credentials anywhere in the SDK's chain (environment, profile, web
    /// identity, container or instance metadata): a missing setting, not a refusal.
    #[error(
        "no S3 credentials found for {operation} on s3://{bucket}/{key}: set {key_id} and \
         {secret} (and {token} for temporary keys) in the runner's environment (a \
         BackupPolicy or RestoreRequest maps them from a Secret with \
         s3.credentials.accessKeyIdSecretRef and secretAccessKeySecretRef), or give the \
         Job's service account a web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)",
        key_id = var::AWS_ACCESS_KEY_ID,
        secret = var::AWS_SECRET_ACCESS_KEY,
        token = var::AWS_SESSION_TOKEN
    )]
    S3NoCredentials {
        operation: &'static str,
        bucket: String,
        key: String,
    },

    /// An S3 request failed after the SDK's retries.
    #[error("S3 {operation} on s3://{bucket}/{key} failed: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },

    /// Reading, compressing, encrypting or hashing the stream failed.
    #[error("backup stream failed while {context}: {source}")]
    Stream {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// Writing the result report failed.
    #[error("cannot write the report to {path}: {source}")]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// No backup matches the selection: the policy has none, or none before a time.
    #[error("no backup found under {prefix}{detail}")]
    NoBackupFound { prefix: String, detail: String },

    /// The backup asked for by key has no manifest (so it does not exist).
    #[error("backup {key} not found: no manifest for it under {prefix}")]
    BackupNotFound { key: String, prefix: String },

    /// The backup's manifest exists but its data is not all there (missing, or of
    /// another size than the manifest records): it cannot be restored.
    #[error("backup {key} is incomplete and cannot be used: {why}")]
    BackupIncomplete { key: String, why: String },

    /// `verify` ran and at least one check failed (the checks are in the report).
    #[error("verification of {key} failed: {failed}")]
    VerifyFailed { key: String, failed: String },

    /// The run was stopped by SIGTERM or SIGINT.
    #[error("interrupted by {0}; the upload was aborted")]
    Interrupted(&'static str),

    /// An integrity check failed: checksum or size of a stored object, decryption of
    /// a corrupt object, row counts after a restore.
    #[error("{message}")]
    Check {
        reason: &'static str,
        message: String,
    },

    /// `pg_restore` or `psql` could not be started or ended unsuccessfully.
    #[error("{tool} failed: {message}")]
    Restore { tool: &'static str, message: String },

    /// A restore was stopped by SIGTERM or SIGINT.
    #[error("interrupted by {0}; the restore was rolled back")]
    RestoreInterrupted(&'static str),

    /// A run of several databases in which some (or all) failed; the message lists them.
    #[error("{message}")]
    RunFailed {
        kind: ErrorKind,
        reason: &'static str,
        message: String,
    },

    /// A bug: a worker thread or task vanished.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Category of the failure, which decides the exit code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_)
            | Error::PgDumpMissing { .. }
            | Error::TargetServerTooOld { .. }
            | Error::TargetTablesMissing { .. }
            | Error::S3Denied { .. }
            | Error::S3NoCredentials { .. } => ErrorKind::Config,
            Error::PostgresAuth { .. } | Error::BackupNotFound { .. } => ErrorKind::Config,
            Error::NoBackupFound { .. }
            | Error::VerifyFailed { .. }
            | Error::BackupIncomplete { .. } => ErrorKind::Check,
            Error::Postgres { .. }
            | Error::PgDump(_)
            | Error::S3 { .. }
            | Error::Stream { .. }
            | Error::Report { .. }
            | Error::Interrupted(_)
            | Error::Restore { .. }
            | Error::RestoreInterrupted(_)
            | Error::Internal(_) => ErrorKind::Runtime,
            Error::Check { .. } => ErrorKind::Check,
            Error::RunFailed { kind, .. } => *kind,
        }
    }

    /// Short machine-readable reason for the report (`PgDumpFailed`, `S3Denied`…).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Config(_) => "InvalidConfig",
            Error::PgDumpMissing { .. } => "PgDumpMissing",
            Error::TargetServerTooOld { .. } => "TargetServerTooOld",
            Error::TargetTablesMissing { .. } => "TargetTablesMissing",
            Error::Postgres { .. } => "PostgresFailed",
            Error::PostgresAuth { .. } => "PostgresRejected",
            Error::PgDump(_) => "PgDumpFailed",
            Error::S3Denied { .. } => "S3Denied",
            Error::S3NoCredentials { .. } => "S3CredentialsMissing",
            Error::S3 { .. } => "S3Failed",
            Error::Stream { .. } => "StreamFailed",
            Error::Report { .. } => "ReportFailed",
            Error::NoBackupFound { .. } => "NoBackupFound",
            Error::BackupNotFound { .. } => "BackupNotFound",
            Error::BackupIncomplete { .. } => "BackupIncomplete",
            Error::VerifyFailed { .. } => "VerifyFailed",
            Error::Interrupted(_) => "Interrupted",
            Error::Check { reason, .. } => reason,
            Error::Restore { .. } => "RestoreFailed",
            Error::RestoreInterrupted(_) => "Interrupted",
            Error::Internal(_) => "Internal",
            Error::RunFailed { reason, .. } => reason,
        }
    }

    /// Shorthand for a configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// Shorthand for a stream I/O error with context.
    pub fn stream(context: &'static str, source: std::io::Error) -> Self {
        Error::Stream { context, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_problems_map_to_the_config_exit_code() {
        let e = Error::PgDumpMissing {
            tool: "pg_dump",
            major: "17".into(),
            needed: "17".into(),
            root: PathBuf::from("/usr/lib/postgresql"),
            installed: "15, 16".into(),
        };
        assert_eq!(e.kind().exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("pg_dump of major 17 or newer"), "{text}");
        assert!(
            text.contains("/usr/lib/postgresql has none (installed: 15, 16)"),
            "{text}"
        );
        let e = Error::TargetServerTooOld {
            key: "k".into(),
            backup_major: 18,
            target_major: 16,
        };
        assert_eq!(e.kind().exit_code(), 2);
        assert_eq!(e.reason(), "TargetServerTooOld");
        assert_eq!(Error::PgDump("exit 1".into()).kind().exit_code(), 1);
        assert_eq!(Error::Interrupted("SIGTERM").reason(), "Interrupted");
    }
}
