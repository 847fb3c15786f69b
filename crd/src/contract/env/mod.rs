//! The environment variables of the operator → runner Job contract: every name the
//! operator sets in a runner Job and every name the runner reads, written once here.
//!
//! Each subcommand reads the names of [`reads`]; the operator sets (a subset of)
//! [`operator_sets`] in that subcommand's Jobs; [`runner_only`] lists the names the
//! runner reads but the operator never sets (tuning and hand-run settings with safe
//! defaults). The operator's Job-builder tests and the runner's CLI tests both compare
//! against these lists, so together they fail when one side drifts from the other.
//!
//! Credentials come only from the environment (the Job maps them from Secret keys):
//! [`PG_PASSWORD`], [`DATABASE_URL`], [`AGE_IDENTITY`], [`AGE_RECIPIENTS`] (when from a
//! Secret) and the `AWS_*` keys.

pub mod operator;

use crate::contract::result::RunnerCommand;

// ---- Shared by every subcommand: the policy and its storage -------------------------

/// Namespace of the BackupPolicy whose backups a run works on.
pub const POLICY_NAMESPACE: &str = "TIDEMARK_POLICY_NAMESPACE";
/// Name of the BackupPolicy whose backups a run works on.
pub const POLICY_NAME: &str = "TIDEMARK_POLICY_NAME";
/// File the result report is written to (default: the container's termination-message path).
pub const TERMINATION_LOG: &str = "TIDEMARK_TERMINATION_LOG";

/// S3 bucket name.
pub const S3_BUCKET: &str = "TIDEMARK_S3_BUCKET";
/// Key prefix under which `<namespace>/<policy>/` lives.
pub const S3_PREFIX: &str = "TIDEMARK_S3_PREFIX";
/// AWS region of the bucket (read by the runner's CLI and by the AWS SDK).
pub const AWS_REGION: &str = "AWS_REGION";
/// Custom S3 endpoint URL.
pub const S3_ENDPOINT: &str = "TIDEMARK_S3_ENDPOINT";
/// Path-style addressing (`true`/`false`).
pub const S3_FORCE_PATH_STYLE: &str = "TIDEMARK_S3_FORCE_PATH_STYLE";
/// Path of a PEM bundle of CA certificates trusted for the S3 endpoint.
pub const S3_CA_BUNDLE: &str = "TIDEMARK_S3_CA_BUNDLE";
/// Server-side encryption: a [`crate::common::SseAlgorithm`] spelled by `env_value`.
pub const S3_SSE: &str = "TIDEMARK_S3_SSE";
/// KMS key id for `aws:kms`.
pub const S3_SSE_KMS_KEY_ID: &str = "TIDEMARK_S3_SSE_KMS_KEY_ID";
/// Storage class of stored objects (S3's spelling, e.g. `STANDARD_IA`).
pub const S3_STORAGE_CLASS: &str = "TIDEMARK_S3_STORAGE_CLASS";
/// Largest object stamped with one CopyObject (tests lower it to reach the multipart copy).
pub const S3_SINGLE_COPY_MAX: &str = "TIDEMARK_S3_SINGLE_COPY_MAX";
/// Longest wait for a connection to the S3 endpoint (a duration, e.g. `10s`).
pub const S3_CONNECT_TIMEOUT: &str = "TIDEMARK_S3_CONNECT_TIMEOUT";
/// Longest wait for the next bytes of an S3 answer (a duration, e.g. `60s`).
pub const S3_READ_TIMEOUT: &str = "TIDEMARK_S3_READ_TIMEOUT";
/// Attempts per S3 request.
pub const S3_MAX_ATTEMPTS: &str = "TIDEMARK_S3_MAX_ATTEMPTS";
/// S3 access key id (a secret; read by the AWS SDK's credential chain).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// S3 secret access key (a secret; read by the AWS SDK's credential chain).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// S3 session token (a secret; read by the AWS SDK's credential chain).
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

// ---- The database connection (backup, restore, restore-test) -------------------------

/// A full `postgres://` URI (a secret: it may hold a password); read from the
/// environment only.
pub const DATABASE_URL: &str = "TIDEMARK_DATABASE_URL";
/// libpq host (or Unix socket directory).
pub const PG_HOST: &str = "PGHOST";
/// libpq port.
pub const PG_PORT: &str = "PGPORT";
/// libpq database name.
pub const PG_DATABASE: &str = "PGDATABASE";
/// libpq user name.
pub const PG_USER: &str = "PGUSER";
/// libpq password (a secret); read from the environment only.
pub const PG_PASSWORD: &str = "PGPASSWORD";
/// libpq sslmode.
pub const PG_SSLMODE: &str = "PGSSLMODE";
/// Path of the PEM file with the CA certificates that sign the server certificate.
pub const PG_SSLROOTCERT: &str = "PGSSLROOTCERT";
/// Root of the PostgreSQL client installations (`<root>/<major>/bin/pg_dump`).
pub const PG_BIN_ROOT: &str = "TIDEMARK_PG_BIN_ROOT";

// ---- backup ---------------------------------------------------------------------------

/// pg_dump output format: a [`crate::backup_policy::DumpFormat`] spelled by `env_value`.
pub const DUMP_FORMAT: &str = "TIDEMARK_DUMP_FORMAT";
/// Stream compression: a [`crate::backup_policy::CompressionAlgorithm`] spelled by `env_value`.
pub const COMPRESSION: &str = "TIDEMARK_COMPRESSION";
/// Compression level.
pub const COMPRESSION_LEVEL: &str = "TIDEMARK_COMPRESSION_LEVEL";
/// zstd worker threads.
pub const COMPRESSION_THREADS: &str = "TIDEMARK_COMPRESSION_THREADS";
/// Schemas to dump (pg_dump `-n` patterns), comma-separated.
pub const INCLUDE_SCHEMAS: &str = "TIDEMARK_INCLUDE_SCHEMAS";
/// Schemas to skip (pg_dump `-N` patterns), comma-separated.
pub const EXCLUDE_SCHEMAS: &str = "TIDEMARK_EXCLUDE_SCHEMAS";
/// Tables to dump (pg_dump `-t` patterns), comma-separated.
pub const INCLUDE_TABLES: &str = "TIDEMARK_INCLUDE_TABLES";
/// Tables to skip (pg_dump `-T` patterns), comma-separated.
pub const EXCLUDE_TABLES: &str = "TIDEMARK_EXCLUDE_TABLES";
/// Row-count mode: a [`crate::backup_policy::RowCountMode`] spelled by `env_value`.
pub const ROW_COUNT_MODE: &str = "TIDEMARK_ROW_COUNT_MODE";
/// Several databases in one run (`spec.databases.names`), one name per line; unset: the
/// one database of the connection.
pub const DATABASES: &str = "TIDEMARK_DATABASES";
/// `true`: every non-template database of the server in one run (`spec.databases.all`).
pub const DATABASES_ALL: &str = "TIDEMARK_DATABASES_ALL";
/// With [`DATABASES_ALL`]: databases left out, one name per line.
pub const DATABASES_EXCLUDE: &str = "TIDEMARK_DATABASES_EXCLUDE";
/// age recipients (public keys), separated by commas or newlines; empty: unencrypted.
pub const AGE_RECIPIENTS: &str = "TIDEMARK_AGE_RECIPIENTS";
/// Initial multipart part size (a size, e.g. `8MiB`).
pub const PART_SIZE: &str = "TIDEMARK_PART_SIZE";
/// Parts buffered or uploading at once.
pub const PARTS_IN_FLIGHT: &str = "TIDEMARK_PARTS_IN_FLIGHT";
/// How the data object carries its SHA-256 (`tag` or `copy`).
pub const SHA256_STAMP: &str = "TIDEMARK_SHA256_STAMP";

// ---- Selecting a backup (verify, list, restore, restore-test) --------------------------

/// Exact backup key.
pub const BACKUP_KEY: &str = "TIDEMARK_BACKUP_KEY";
/// The newest backup completed strictly before this RFC 3339 time.
pub const BACKUP_BEFORE: &str = "TIDEMARK_BACKUP_BEFORE";
/// Only backups of this database (a multi-database policy's runs hold several).
pub const BACKUP_DATABASE: &str = "TIDEMARK_BACKUP_DATABASE";

// ---- verify ---------------------------------------------------------------------------

/// Smallest acceptable stored object (a size; the operator passes bytes).
pub const VERIFY_MIN_SIZE: &str = "TIDEMARK_VERIFY_MIN_SIZE";
/// Oldest acceptable completion time, as an age (a duration).
pub const VERIFY_MAX_AGE: &str = "TIDEMARK_VERIFY_MAX_AGE";
/// Largest acceptable shrink against the previous backup, in percent.
pub const VERIFY_MAX_SHRINK_PERCENT: &str = "TIDEMARK_VERIFY_MAX_SHRINK_PERCENT";

// ---- Retention (prune; list shows the tiers) -----------------------------------------

/// Keep the newest backup of each of the last N hours.
pub const KEEP_HOURLY: &str = "TIDEMARK_KEEP_HOURLY";
/// Keep the newest backup of each of the last N days.
pub const KEEP_DAILY: &str = "TIDEMARK_KEEP_DAILY";
/// Keep the newest backup of each of the last N ISO weeks.
pub const KEEP_WEEKLY: &str = "TIDEMARK_KEEP_WEEKLY";
/// Keep the newest backup of each of the last N months.
pub const KEEP_MONTHLY: &str = "TIDEMARK_KEEP_MONTHLY";
/// Keep the newest backup of each of the last N years.
pub const KEEP_YEARLY: &str = "TIDEMARK_KEEP_YEARLY";
/// IANA time zone the retention periods are computed in.
pub const TIME_ZONE: &str = "TIDEMARK_TIME_ZONE";

// ---- prune ----------------------------------------------------------------------------

/// Age after which objects without a manifest and multipart uploads are removed.
pub const ORPHAN_GRACE_PERIOD: &str = "TIDEMARK_ORPHAN_GRACE_PERIOD";
/// Decide and report, delete nothing.
pub const DRY_RUN: &str = "TIDEMARK_DRY_RUN";
/// Delete everything under the policy prefix (`deletionPolicy: Delete`).
pub const PRUNE_ALL: &str = "TIDEMARK_PRUNE_ALL";

// ---- list -----------------------------------------------------------------------------

/// `table` or `json`.
pub const LIST_OUTPUT: &str = "TIDEMARK_LIST_OUTPUT";

// ---- restore --------------------------------------------------------------------------

/// Only check the target and report it (the operator passes `--preflight` instead).
pub const RESTORE_PREFLIGHT: &str = "TIDEMARK_RESTORE_PREFLIGHT";
/// What is restored: a [`crate::restore_request::RestoreContent`] spelled by `env_value`.
pub const RESTORE_CONTENT: &str = "TIDEMARK_RESTORE_CONTENT";
/// Only these tables (`schema.table`), comma-separated.
pub const RESTORE_TABLES: &str = "TIDEMARK_RESTORE_TABLES";
/// Drop the backup's objects before recreating them (`true`/`false`).
pub const RESTORE_CLEAN: &str = "TIDEMARK_RESTORE_CLEAN";
/// Data-only restore: empty the restored tables first (`true`/`false`).
pub const RESTORE_TRUNCATE: &str = "TIDEMARK_RESTORE_TRUNCATE";
/// Create the target database first when missing (`true`/`false`).
pub const CREATE_DATABASE: &str = "TIDEMARK_CREATE_DATABASE";
/// Database to connect to for CREATE DATABASE.
pub const MAINTENANCE_DATABASE: &str = "TIDEMARK_MAINTENANCE_DATABASE";
/// Do not restore object ownership.
pub const RESTORE_NO_OWNER: &str = "TIDEMARK_RESTORE_NO_OWNER";
/// Do not restore privileges.
pub const RESTORE_NO_PRIVILEGES: &str = "TIDEMARK_RESTORE_NO_PRIVILEGES";
/// Full restores with 2 or more: `pg_restore -j N` into a side database, swapped in
/// by renaming once verified; 1: the single-transaction stream.
pub const RESTORE_PARALLELISM: &str = "TIDEMARK_RESTORE_PARALLELISM";
/// Directory of the parallel restore's local spool file (an `emptyDir` in a Job).
pub const RESTORE_SPOOL_DIR: &str = "TIDEMARK_RESTORE_SPOOL_DIR";
/// What to do about roles the backup's objects need that the target server lacks: a
/// [`crate::restore_request::RoleHandling`] spelled by `env_value` (`require`, the
/// default, fails naming them before anything changes; `create-missing` creates them
/// from the backup's globals object).
pub const RESTORE_ROLES: &str = "TIDEMARK_RESTORE_ROLES";
/// Restore every database of the selected run, each into the database of the same
/// name on the target server (`true`/`false`).
pub const RESTORE_ALL_DATABASES: &str = "TIDEMARK_RESTORE_ALL_DATABASES";
/// age identity that decrypts backups (a secret); read from the environment only.
pub const AGE_IDENTITY: &str = "TIDEMARK_AGE_IDENTITY";

// ---- restore-test ---------------------------------------------------------------------

/// Where the scratch database lives (`ephemeral` or `existing`).
pub const RESTORE_TEST_TARGET: &str = "TIDEMARK_RESTORE_TEST_TARGET";
/// How long to wait for the scratch server (a duration).
pub const SCRATCH_WAIT: &str = "TIDEMARK_SCRATCH_WAIT";
/// Prefix of the temporary database's name.
pub const SCRATCH_DATABASE_PREFIX: &str = "TIDEMARK_SCRATCH_DATABASE_PREFIX";

// ---- Groups ---------------------------------------------------------------------------

/// The policy a run belongs to (every subcommand; the operator always sets both).
pub const POLICY: &[&str] = &[POLICY_NAMESPACE, POLICY_NAME];

/// Storage location and credentials the operator sets from `spec.s3` (every subcommand).
pub const S3: &[&str] = &[
    S3_BUCKET,
    S3_PREFIX,
    AWS_REGION,
    S3_ENDPOINT,
    S3_FORCE_PATH_STYLE,
    S3_CA_BUNDLE,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
];

/// How written objects are stored, from `spec.s3` (`backup` only: no other subcommand
/// writes objects).
pub const S3_OBJECTS: &[&str] = &[S3_SSE, S3_SSE_KMS_KEY_ID, S3_STORAGE_CLASS];

/// Storage tuning the operator never sets: the runner's defaults hold in every Job;
/// tests and hand runs change them.
pub const S3_TUNING: &[&str] = &[S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT, S3_MAX_ATTEMPTS];

/// The libpq connection the operator sets from a `DatabaseConnection`.
pub const DATABASE: &[&str] = &[
    DATABASE_URL,
    PG_HOST,
    PG_PORT,
    PG_DATABASE,
    PG_USER,
    PG_PASSWORD,
    PG_SSLMODE,
    PG_SSLROOTCERT,
];

/// Names a subcommand reads straight from the environment rather than through its
/// command line (secrets, which never have a flag). The AWS SDK reads the `AWS_*`
/// credentials the same way.
pub const ENVIRONMENT_ONLY: &[&str] = &[
    DATABASE_URL,
    PG_PASSWORD,
    AGE_IDENTITY,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
];

/// Backup settings the operator sets from `spec.dump` and `spec.encryption`.
pub const BACKUP: &[&str] = &[
    DUMP_FORMAT,
    COMPRESSION,
    COMPRESSION_LEVEL,
    COMPRESSION_THREADS,
    INCLUDE_SCHEMAS,
    EXCLUDE_SCHEMAS,
    INCLUDE_TABLES,
    EXCLUDE_TABLES,
    ROW_COUNT_MODE,
    AGE_RECIPIENTS,
    DATABASES,
    DATABASES_ALL,
    DATABASES_EXCLUDE,
];

/// Retention counts and time zone.
pub const RETENTION: &[&str] = &[
    KEEP_HOURLY,
    KEEP_DAILY,
    KEEP_WEEKLY,
    KEEP_MONTHLY,
    KEEP_YEARLY,
    TIME_ZONE,
];

/// Every name of the contract, each once.
pub const ALL: &[&str] = &[
    POLICY_NAMESPACE,
    POLICY_NAME,
    TERMINATION_LOG,
    S3_BUCKET,
    S3_PREFIX,
    AWS_REGION,
    S3_ENDPOINT,
    S3_FORCE_PATH_STYLE,
    S3_CA_BUNDLE,
    S3_SSE,
    S3_SSE_KMS_KEY_ID,
    S3_STORAGE_CLASS,
    S3_SINGLE_COPY_MAX,
    S3_CONNECT_TIMEOUT,
    S3_READ_TIMEOUT,
    S3_MAX_ATTEMPTS,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    DATABASE_URL,
    PG_HOST,
    PG_PORT,
    PG_DATABASE,
    PG_USER,
    PG_PASSWORD,
    PG_SSLMODE,
    PG_SSLROOTCERT,
    PG_BIN_ROOT,
    DUMP_FORMAT,
    COMPRESSION,
    COMPRESSION_LEVEL,
    COMPRESSION_THREADS,
    INCLUDE_SCHEMAS,
    EXCLUDE_SCHEMAS,
    INCLUDE_TABLES,
    EXCLUDE_TABLES,
    ROW_COUNT_MODE,
    AGE_RECIPIENTS,
    DATABASES,
    DATABASES_ALL,
    DATABASES_EXCLUDE,
    PART_SIZE,
    PARTS_IN_FLIGHT,
    SHA256_STAMP,
    BACKUP_KEY,
    BACKUP_BEFORE,
    BACKUP_DATABASE,
    VERIFY_MIN_SIZE,
    VERIFY_MAX_AGE,
    VERIFY_MAX_SHRINK_PERCENT,
    KEEP_HOURLY,
    KEEP_DAILY,
    KEEP_WEEKLY,
    KEEP_MONTHLY,
    KEEP_YEARLY,
    TIME_ZONE,
    ORPHAN_GRACE_PERIOD,
    DRY_RUN,
    PRUNE_ALL,
    LIST_OUTPUT,
    RESTORE_PREFLIGHT,
    RESTORE_CONTENT,
    RESTORE_TABLES,
    RESTORE_CLEAN,
    RESTORE_TRUNCATE,
    CREATE_DATABASE,
    MAINTENANCE_DATABASE,
    RESTORE_NO_OWNER,
    RESTORE_NO_PRIVILEGES,
    RESTORE_PARALLELISM,
    RESTORE_SPOOL_DIR,
    RESTORE_ROLES,
    RESTORE_ALL_DATABASES,
    AGE_IDENTITY,
    RESTORE_TEST_TARGET,
    SCRATCH_WAIT,
    SCRATCH_DATABASE_PREFIX,
];

/// Every subcommand of the runner.
pub const COMMANDS: [RunnerCommand; 6] = [
    RunnerCommand::Backup,
    RunnerCommand::Verify,
    RunnerCommand::Prune,
    RunnerCommand::List,
    RunnerCommand::Restore,
    RunnerCommand::RestoreTest,
];

/// The names the operator may set in the Jobs of `command` (each only when the spec
/// asks for it). Each of them must be read by the runner's `command`.
pub fn operator_sets(command: RunnerCommand) -> Vec<&'static str> {
    let mut names = [POLICY, S3].concat();
    match command {
        RunnerCommand::Backup => {
            names.extend_from_slice(S3_OBJECTS);
            names.extend_from_slice(DATABASE);
            names.extend_from_slice(BACKUP);
        }
        RunnerCommand::Verify => {
            names.extend_from_slice(&[VERIFY_MIN_SIZE, VERIFY_MAX_AGE, VERIFY_MAX_SHRINK_PERCENT]);
        }
        RunnerCommand::Prune => {
            names.extend_from_slice(RETENTION);
            names.extend_from_slice(&[ORPHAN_GRACE_PERIOD, PRUNE_ALL]);
        }
        RunnerCommand::List => names.extend_from_slice(&[
            BACKUP_KEY,
            BACKUP_BEFORE,
            BACKUP_DATABASE,
            RESTORE_ALL_DATABASES,
        ]),
        RunnerCommand::Restore => {
            names.extend_from_slice(DATABASE);
            names.extend_from_slice(&[
                BACKUP_KEY,
                BACKUP_DATABASE,
                RESTORE_CONTENT,
                RESTORE_TABLES,
                RESTORE_CLEAN,
                RESTORE_TRUNCATE,
                CREATE_DATABASE,
                RESTORE_NO_OWNER,
                RESTORE_NO_PRIVILEGES,
                RESTORE_ROLES,
                RESTORE_ALL_DATABASES,
                AGE_IDENTITY,
                RESTORE_PARALLELISM,
                RESTORE_SPOOL_DIR,
            ]);
        }
        RunnerCommand::RestoreTest => {
            names.extend_from_slice(DATABASE);
            names.extend_from_slice(&[
                RESTORE_TEST_TARGET,
                AGE_IDENTITY,
                RESTORE_PARALLELISM,
                RESTORE_SPOOL_DIR,
            ]);
        }
    }
    names
}

/// The names the runner's `command` reads that the operator never sets. This is the
/// allow-list of the cross-check: each entry has a default that is right in a Job and
/// exists for tests and hand runs.
pub fn runner_only(command: RunnerCommand) -> Vec<&'static str> {
    // The report path: Kubernetes' termination-message path is the default.
    let mut names = vec![TERMINATION_LOG];
    // Timeouts and retries: the runner's defaults are the tuned ones.
    names.extend_from_slice(S3_TUNING);
    match command {
        RunnerCommand::Backup => {
            // The copy limit of stamping: S3's own.
            names.push(S3_SINGLE_COPY_MAX);
            // The image's client tools live under the default root.
            names.push(PG_BIN_ROOT);
            // Upload tuning: memory is part size × parts in flight; the defaults fit
            // the Job's default memory limit. `copy` stamping is for hand runs.
            names.extend_from_slice(&[PART_SIZE, PARTS_IN_FLIGHT, SHA256_STAMP]);
        }
        RunnerCommand::Verify => {
            // Scheduled verification always checks the newest backup (each database of
            // the newest run); a hand run may narrow it to one database.
            names.extend_from_slice(&[BACKUP_KEY, BACKUP_BEFORE, BACKUP_DATABASE]);
        }
        RunnerCommand::Prune => {
            // A dry run is for people; the operator's prune always acts.
            names.push(DRY_RUN);
        }
        RunnerCommand::List => {
            // The operator reads the report, not the printed table; tiers are for people.
            names.push(LIST_OUTPUT);
            names.extend_from_slice(RETENTION);
        }
        RunnerCommand::Restore => {
            names.push(PG_BIN_ROOT);
            // The operator resolves the backup with a `list` Job first and passes its key.
            names.push(BACKUP_BEFORE);
            // The operator passes `--preflight` as an argument.
            names.push(RESTORE_PREFLIGHT);
            // Hand-run options not (yet) in the RestoreRequest API; defaults apply.
            names.push(MAINTENANCE_DATABASE);
        }
        RunnerCommand::RestoreTest => {
            names.push(PG_BIN_ROOT);
            // Restore tests always test the newest backup (each database of the newest
            // run); a hand run may narrow it to one database.
            names.extend_from_slice(&[BACKUP_KEY, BACKUP_BEFORE, BACKUP_DATABASE]);
            // The defaults (wait for an ephemeral server, name prefix) suit every Job.
            names.extend_from_slice(&[SCRATCH_WAIT, SCRATCH_DATABASE_PREFIX]);
        }
    }
    names
}

/// Every name the runner's `command` reads: [`operator_sets`] and [`runner_only`].
pub fn reads(command: RunnerCommand) -> Vec<&'static str> {
    let mut names = operator_sets(command);
    names.extend(runner_only(command));
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn all_lists_each_name_once_and_nothing_else() {
        let all: BTreeSet<&str> = ALL.iter().copied().collect();
        assert_eq!(all.len(), ALL.len(), "a name is listed twice in ALL");
        let used: BTreeSet<&str> = COMMANDS.into_iter().flat_map(reads).collect();
        for name in &used {
            assert!(all.contains(name), "{name} is read but not in ALL");
        }
        for name in &all {
            assert!(
                used.contains(name),
                "{name} is in ALL but no subcommand reads it"
            );
        }
    }

    #[test]
    fn names_have_a_known_prefix() {
        for name in ALL {
            assert!(
                name.starts_with("TIDEMARK_") || name.starts_with("PG") || name.starts_with("AWS_"),
                "{name}"
            );
        }
    }

    #[test]
    fn the_operator_never_sets_a_runner_only_name() {
        for command in COMMANDS {
            let only = runner_only(command);
            for name in operator_sets(command) {
                assert!(
                    !only.contains(&name),
                    "{name} is both set by the operator and runner-only for {command:?}"
                );
            }
        }
    }
}
