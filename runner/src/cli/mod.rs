//! Command line: one subcommand per runner job. Every flag has an environment variable
//! (the operator sets those in Jobs); credentials are read from the environment only
//! (see [`crate::pg::connect`] and the AWS SDK default chain) and never have a flag.
//!
//! Argument groups that several subcommands need (`S3Args`, `PolicyArgs`, `DbArgs`)
//! are separate structs so `restore`, `verify`, `prune`, … can flatten them later.

use std::path::PathBuf;
use tidemark_crd::contract::env as var;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tidemark_crd::contract::result::RunnerCommand;
use tidemark_crd::contract::values::{CompressionAlgorithm, DumpFormat, RowCountMode};

use crate::inventory::Selector;
use tidemark_crd::units::ByteSize;
use tidemark_crd::units::HumanDuration;

mod list;
mod prune;
mod restore;
mod restore_test;
mod retention;
mod s3_objects;
mod settings;
mod verify;

pub use list::{ListArgs, ListOutput};
pub use prune::PruneArgs;
pub use restore::{RestoreArgs, RestoreOptions};
pub use restore_test::RestoreTestArgs;
pub use retention::RetentionArgs;
pub use s3_objects::S3ObjectArgs;
pub use verify::VerifyArgs;

/// The credentials the runner reads from its environment only (never from a flag, so they
/// never show in a process list), listed at the end of `--help`.
fn secrets_help() -> String {
    let lines = [
        (
            var::PG_PASSWORD,
            "the database password (or a libpq password file)",
        ),
        (
            var::DATABASE_URL,
            "a PostgreSQL connection URL, instead of the host/user settings",
        ),
        (
            var::AWS_ACCESS_KEY_ID,
            "S3 access key (or the AWS SDK's other sources)",
        ),
        (var::AWS_SECRET_ACCESS_KEY, "S3 secret key"),
        (
            var::AWS_SESSION_TOKEN,
            "S3 session token, for temporary credentials",
        ),
        (
            var::AGE_RECIPIENTS,
            "age public keys to encrypt backups to (backup)",
        ),
        (
            var::AGE_IDENTITY,
            "age private key to decrypt backups (restore, restore-test)",
        ),
    ];
    let mut out = String::from("Secrets, read from the environment only:\n");
    for (name, what) in lines {
        out.push_str(&format!("  {name:<24} {what}\n"));
    }
    out
}

/// tidemark-runner: the data path of Tidemark, run inside Kubernetes Jobs.
#[derive(Debug, Parser)]
#[command(name = "tidemark-runner", version, about, after_help = secrets_help())]
pub struct Cli {
    /// File the result report is written to (the container's termination-message path).
    /// When unset, /dev/termination-log is tried and a failure there only warns.
    #[arg(long, env = var::TERMINATION_LOG, global = true)]
    pub termination_log: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The runner's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream pg_dump → compression → encryption → SHA-256 → S3, then write the manifest.
    Backup(Box<BackupArgs>),
    /// Check one backup: manifest, object, sizes, SHA-256 (streamed), age.
    Verify(Box<VerifyArgs>),
    /// Apply grandfather-father-son retention; remove orphans and stale uploads.
    Prune(Box<PruneArgs>),
    /// Print the policy's backups (table or JSON) and resolve a selector.
    List(Box<ListArgs>),
    /// Restore a backup into the target database, checksum-gated, in one transaction.
    Restore(Box<RestoreArgs>),
    /// Restore a backup into a scratch database and compare row counts (then drop it).
    RestoreTest(Box<RestoreTestArgs>),
}

impl Command {
    /// The name this subcommand has in reports.
    pub fn report_name(&self) -> RunnerCommand {
        match self {
            Command::Backup(_) => RunnerCommand::Backup,
            Command::Verify(_) => RunnerCommand::Verify,
            Command::Prune(_) => RunnerCommand::Prune,
            Command::List(_) => RunnerCommand::List,
            Command::Restore(_) => RunnerCommand::Restore,
            Command::RestoreTest(_) => RunnerCommand::RestoreTest,
        }
    }

    /// The report name of a subcommand spelled on the command line (for usage errors).
    pub fn report_name_of(arg: &str) -> Option<RunnerCommand> {
        Some(match arg {
            "backup" => RunnerCommand::Backup,
            "restore" => RunnerCommand::Restore,
            "verify" => RunnerCommand::Verify,
            "restore-test" => RunnerCommand::RestoreTest,
            "prune" => RunnerCommand::Prune,
            "list" => RunnerCommand::List,
            _ => return None,
        })
    }
}

/// Settings of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub s3_objects: S3ObjectArgs,
    #[command(flatten)]
    pub dump: DumpArgs,
    #[command(flatten)]
    pub upload: UploadArgs,
    #[command(flatten)]
    pub databases: DatabasesArgs,

    /// age X25519 recipients (public keys, `age1…`), separated by commas or newlines.
    /// Empty: the backup is stored unencrypted.
    #[arg(long, env = var::AGE_RECIPIENTS, default_value = "")]
    pub age_recipients: String,
}

/// Several databases of the server in one run (instead of `--pg-database`).
#[derive(Debug, Args)]
pub struct DatabasesArgs {
    /// Back up these databases in one run, one object set each (one name per line in
    /// the environment; the flag may repeat).
    #[arg(long = "databases", env = var::DATABASES, value_delimiter = '\n')]
    pub names: Vec<String>,
    /// Back up every non-template database of the server in one run.
    #[arg(
        long = "databases-all",
        env = var::DATABASES_ALL,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub all: bool,
    /// With `--databases-all`: databases left out (one per line; the flag may repeat).
    #[arg(
        long = "databases-exclude",
        env = var::DATABASES_EXCLUDE,
        value_delimiter = '\n'
    )]
    pub exclude: Vec<String>,
}

/// Which backup a command works on: the newest by default, an exact key, or the newest
/// completed before a time. `--key` and `--before` exclude each other.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectorArgs {
    /// Exact backup key (full key, manifest key, or the name under the policy prefix).
    #[arg(long = "key", env = var::BACKUP_KEY, conflicts_with = "before")]
    pub key: Option<String>,
    /// Use the newest backup completed strictly before this RFC 3339 time
    /// (e.g. `2026-11-23T14:00:00Z`).
    #[arg(long = "before", env = var::BACKUP_BEFORE)]
    pub before: Option<String>,
    /// Only backups of this database (the runs of a multi-database policy hold
    /// several; `latest`/`before` then need it).
    #[arg(id = "backup_database", long = "database", env = var::BACKUP_DATABASE)]
    pub backup_database: Option<String>,
}

impl SelectorArgs {
    /// The database the selection is limited to; empty counts as unset.
    pub fn database(&self) -> Option<String> {
        self.backup_database
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
    }

    /// The selector these arguments describe; empty values count as unset.
    pub fn selector(&self) -> crate::error::Result<Selector> {
        let key = self.key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        let before = self
            .before
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        match (key, before) {
            (Some(_), Some(_)) => Err(crate::error::Error::config(
                "TIDEMARK_BACKUP_KEY and TIDEMARK_BACKUP_BEFORE exclude each other",
            )),
            (Some(key), None) => Ok(Selector::Key(key.to_string())),
            (None, Some(before)) => chrono::DateTime::parse_from_rfc3339(before)
                .map(|t| Selector::Before(t.with_timezone(&chrono::Utc)))
                .map_err(|e| {
                    crate::error::Error::config(format!(
                        "TIDEMARK_BACKUP_BEFORE {before:?} is not an RFC 3339 time \
                         (example: 2026-11-23T14:00:00Z): {e}"
                    ))
                }),
            (None, None) => Ok(Selector::Latest),
        }
    }
}

/// Which BackupPolicy a run belongs to.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Namespace of the BackupPolicy.
    #[arg(long, env = var::POLICY_NAMESPACE)]
    pub policy_namespace: String,
    /// Name of the BackupPolicy.
    #[arg(long, env = var::POLICY_NAME)]
    pub policy_name: String,
}

/// Non-secret connection settings (libpq names). The password comes from `PGPASSWORD`
/// and a full URI from `TIDEMARK_DATABASE_URL`, both environment-only.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database host (or Unix socket directory).
    #[arg(long = "pg-host", env = var::PG_HOST)]
    pub host: Option<String>,
    /// Database port.
    #[arg(long = "pg-port", env = var::PG_PORT)]
    pub port: Option<u16>,
    /// Database name.
    #[arg(long = "pg-database", env = var::PG_DATABASE)]
    pub database: Option<String>,
    /// Database user.
    #[arg(long = "pg-user", env = var::PG_USER)]
    pub user: Option<String>,
    /// libpq sslmode: disable, allow, prefer, require, verify-ca, verify-full.
    #[arg(long = "pg-sslmode", env = var::PG_SSLMODE)]
    pub sslmode: Option<String>,
    /// PEM file with the CA certificates that sign the server certificate.
    #[arg(long = "pg-sslrootcert", env = var::PG_SSLROOTCERT)]
    pub sslrootcert: Option<PathBuf>,
    /// Root of the PostgreSQL client installations: `<root>/<major>/bin/pg_dump`.
    #[arg(
        long,
        env = var::PG_BIN_ROOT,
        default_value = "/usr/lib/postgresql"
    )]
    pub pg_bin_root: PathBuf,
}

/// Where backups live in S3 and how the client reaches it (how written objects are
/// stored is [`S3ObjectArgs`], for the subcommand that writes them).
#[derive(Debug, Args)]
pub struct S3Args {
    /// Bucket name.
    #[arg(long = "s3-bucket", env = var::S3_BUCKET)]
    pub bucket: String,
    /// Key prefix under which `<namespace>/<policy>/` lives.
    #[arg(long = "s3-prefix", env = var::S3_PREFIX, default_value = "")]
    pub prefix: String,
    /// AWS region (us-east-1 when unset and no other source of the SDK chain has one).
    #[arg(long = "s3-region", env = var::AWS_REGION)]
    pub region: Option<String>,
    /// Custom endpoint URL (SeaweedFS, MinIO, Spaces, R2, …).
    #[arg(long = "s3-endpoint", env = var::S3_ENDPOINT)]
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual hosts.
    #[arg(
        long = "s3-force-path-style",
        env = var::S3_FORCE_PATH_STYLE,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub force_path_style: bool,
    /// PEM bundle of CA certificates trusted for the S3 endpoint, added to the system roots.
    #[arg(long = "s3-ca-bundle", env = var::S3_CA_BUNDLE)]
    pub ca_bundle: Option<PathBuf>,
    /// Longest wait for a TCP/TLS connection to the S3 endpoint.
    #[arg(
        long = "s3-connect-timeout",
        env = var::S3_CONNECT_TIMEOUT,
        default_value = "10s"
    )]
    pub connect_timeout: HumanDuration,
    /// Longest wait for the next bytes of an S3 answer (headers or body); a stalled
    /// endpoint fails the request after this.
    #[arg(
        long = "s3-read-timeout",
        env = var::S3_READ_TIMEOUT,
        default_value = "60s"
    )]
    pub read_timeout: HumanDuration,
    /// Attempts per S3 request (1 = no retry), with exponential backoff between them.
    #[arg(
        long = "s3-max-attempts",
        env = var::S3_MAX_ATTEMPTS,
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=20),
    )]
    pub max_attempts: u32,
}

/// What is dumped and how the stream is compressed.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// pg_dump output format.
    #[arg(
        long,
        env = var::DUMP_FORMAT,
        value_enum,
        default_value = "custom"
    )]
    pub dump_format: DumpFormat,
    /// Compression of the stream (pg_dump's own compression is always off).
    #[arg(long, env = var::COMPRESSION, value_enum, default_value = "zstd")]
    pub compression: CompressionAlgorithm,
    /// Compression level (zstd 1–19, default 3; gzip 0–9, default 6).
    #[arg(long, env = var::COMPRESSION_LEVEL)]
    pub compression_level: Option<i32>,
    /// zstd worker threads (default: the available CPUs; 0 = compress on the stream thread).
    #[arg(long, env = var::COMPRESSION_THREADS)]
    pub compression_threads: Option<u32>,
    /// Schemas to dump (pg_dump -n patterns), comma-separated.
    #[arg(long, env = var::INCLUDE_SCHEMAS, value_delimiter = ',')]
    pub include_schemas: Vec<String>,
    /// Schemas to skip (pg_dump -N patterns), comma-separated.
    #[arg(long, env = var::EXCLUDE_SCHEMAS, value_delimiter = ',')]
    pub exclude_schemas: Vec<String>,
    /// Tables to dump (pg_dump -t patterns), comma-separated.
    #[arg(long, env = var::INCLUDE_TABLES, value_delimiter = ',')]
    pub include_tables: Vec<String>,
    /// Tables to skip (pg_dump -T patterns), comma-separated.
    #[arg(long, env = var::EXCLUDE_TABLES, value_delimiter = ',')]
    pub exclude_tables: Vec<String>,
    /// How row counts are taken inside the dump's snapshot.
    #[arg(
        long,
        env = var::ROW_COUNT_MODE,
        value_enum,
        default_value = "exact"
    )]
    pub row_count_mode: RowCountMode,
}

/// Multipart upload tuning. Memory use is about part size × parts in flight.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Initial part size (≥ 5MiB), e.g. `8MiB`; doubles every 900 parts.
    #[arg(long, env = var::PART_SIZE, default_value = "8MiB")]
    pub part_size: ByteSize,
    /// Parts buffered or uploading at once; the stream waits when all are busy.
    #[arg(long, env = var::PARTS_IN_FLIGHT, default_value_t = 3)]
    pub parts_in_flight: usize,
    /// How the data object carries its SHA-256, which is known only when the stream
    /// ends (the manifest always has it, in its body and its user metadata).
    #[arg(long, env = var::SHA256_STAMP, value_enum, default_value = "tag")]
    pub sha256_stamp: Sha256Stamp,
}

/// Where the data object's SHA-256 is recorded on the object itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sha256Stamp {
    /// An object tag `sha256` (PutObjectTagging): no data is copied, and the object's
    /// storage-class clock (minimum storage duration of STANDARD_IA, GLACIER_IR…) is
    /// not restarted.
    Tag,
    /// User metadata `sha256`, by copying the object onto itself server-side with
    /// replaced metadata: costs a full server-side copy of the backup.
    Copy,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use tidemark_crd::contract::values::SseAlgorithm;

    #[derive(Debug, Parser)]
    struct SelectorOnly {
        #[command(flatten)]
        selector: SelectorArgs,
    }

    fn selector_of(args: &[&str]) -> crate::error::Result<Selector> {
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        SelectorOnly::try_parse_from(argv)
            .unwrap()
            .selector
            .selector()
    }

    #[test]
    fn selector_flags_choose_latest_key_or_before() {
        assert_eq!(selector_of(&[]).unwrap(), Selector::Latest);
        assert_eq!(
            selector_of(&["--key", "ns/p/20260101T000000Z.dump"]).unwrap(),
            Selector::Key("ns/p/20260101T000000Z.dump".into())
        );
        assert_eq!(
            selector_of(&["--before", "2026-01-01T02:00:00+02:00"]).unwrap(),
            Selector::Before("2026-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(selector_of(&["--key", " "]).unwrap(), Selector::Latest);
        let err = selector_of(&["--before", "yesterday"]).unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
        assert!(
            SelectorOnly::try_parse_from(["x", "--key", "k", "--before", "2026-01-01T00:00:00Z"])
                .is_err()
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_every_secret_variable() {
        let help = Cli::command().render_help().to_string();
        for name in [
            var::PG_PASSWORD,
            var::DATABASE_URL,
            var::AWS_ACCESS_KEY_ID,
            var::AWS_SECRET_ACCESS_KEY,
            var::AWS_SESSION_TOKEN,
            var::AGE_RECIPIENTS,
            var::AGE_IDENTITY,
        ] {
            assert!(help.contains(name), "{name} missing from --help:\n{help}");
        }
    }

    #[test]
    fn backup_flags_parse_with_defaults() {
        let cli = Cli::try_parse_from([
            "tidemark-runner",
            "backup",
            "--policy-namespace",
            "shop",
            "--policy-name",
            "webshop",
            "--s3-bucket",
            "b",
            "--s3-force-path-style",
            "--include-tables",
            "public.a,public.b",
        ])
        .unwrap();
        let Command::Backup(args) = cli.command else {
            panic!("parsed as another subcommand");
        };
        assert!(args.s3.force_path_style);
        assert_eq!(args.s3_objects.sse, SseAlgorithm::Aes256);
        assert_eq!(args.dump.include_tables, vec!["public.a", "public.b"]);
        assert_eq!(args.upload.part_size.0, 8 << 20);
        assert_eq!(args.dump.dump_format, DumpFormat::Custom);
    }
}
