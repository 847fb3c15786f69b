//! Settings of `restore`. The age identity that decrypts backups is read from the
//! environment only (`TIDEMARK_AGE_IDENTITY`), never from a flag.

use clap::Args;
use tidemark_crd::contract::env as var;
use tidemark_crd::contract::values::{RestoreContent, RoleHandling};

use super::{DbArgs, PolicyArgs, S3Args, SelectorArgs};

/// Settings of `restore`: which backup, which target, what to restore.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub selector: SelectorArgs,
    #[command(flatten)]
    pub options: RestoreOptions,
    /// Only check the target (does the database exist, does it hold user tables) and
    /// report it; nothing is selected, read or changed.
    #[arg(long, env = var::RESTORE_PREFLIGHT, default_value_t = false)]
    pub preflight: bool,
    /// Restore every database of the selected run (a policy of several databases), each
    /// into the database of the same name on the target server. Every target is checked
    /// before any is changed; the databases are restored one by one, each in its own
    /// transaction. Not with `--database`.
    #[arg(
        long,
        env = var::RESTORE_ALL_DATABASES,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub all_databases: bool,
}

/// What a restore puts into the target.
#[derive(Debug, Args)]
pub struct RestoreOptions {
    /// What is restored: everything (`full`), table data only, or definitions only.
    #[arg(
        long,
        env = var::RESTORE_CONTENT,
        value_enum,
        default_value = "full"
    )]
    pub content: RestoreContent,
    /// Restore only these tables (`schema.table`, names as in the catalog), repeatable
    /// or comma-separated. Custom-format backups only.
    #[arg(
        long = "tables",
        env = var::RESTORE_TABLES,
        value_delimiter = ','
    )]
    pub tables: Vec<String>,
    /// Full restore: drop the backup's objects before recreating them
    /// (`pg_restore --clean --if-exists`).
    #[arg(
        long,
        env = var::RESTORE_CLEAN,
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub clean: bool,
    /// Full restore without dropping anything first (the target must then be empty).
    #[arg(long, default_value_t = false)]
    pub no_clean: bool,
    /// Data-only restore: empty the restored tables first, in the same transaction.
    #[arg(
        long,
        env = var::RESTORE_TRUNCATE,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub truncate: bool,
    /// Create the target database first if it does not exist (connecting to the
    /// maintenance database of the same server).
    #[arg(
        long,
        env = var::CREATE_DATABASE,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub create_database: bool,
    /// Database to connect to for CREATE DATABASE.
    #[arg(
        long,
        env = var::MAINTENANCE_DATABASE,
        default_value = "postgres"
    )]
    pub maintenance_database: String,
    /// Do not restore object ownership (`pg_restore --no-owner`): objects belong to the
    /// connecting user. Needed when the backup's roles do not exist on the target.
    #[arg(
        long,
        env = var::RESTORE_NO_OWNER,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub no_owner: bool,
    /// Do not restore privileges (`pg_restore --no-privileges`).
    #[arg(
        long,
        env = var::RESTORE_NO_PRIVILEGES,
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub no_privileges: bool,
    /// Full restores: with 2 or more, build the restore in a side database while the
    /// backup downloads (the rows through N COPY connections, indexes with
    /// `pg_restore -j N`) and swap it in by renaming once verified; 1 is the
    /// single-transaction stream.
    #[arg(long, env = var::RESTORE_PARALLELISM, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallelism: u32,
    /// Directory of the parallel path's side archive (the backup's table of contents and
    /// large objects).
    #[arg(long, env = var::RESTORE_SPOOL_DIR, default_value = "/tmp")]
    pub spool_dir: std::path::PathBuf,
    /// Roles the backup's objects need that the target server lacks: `require` fails
    /// before anything changes, naming them; `create-missing` creates them from the
    /// backup's globals object (never altering an existing role).
    #[arg(
        long,
        env = var::RESTORE_ROLES,
        value_enum,
        default_value = "require"
    )]
    pub roles: RoleHandling,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use tidemark_crd::contract::values::RestoreContent;

    use crate::cli::{Cli, Command};

    #[test]
    fn restore_flags_parse_tables_repeatable_and_comma_separated() {
        let cli = Cli::try_parse_from([
            "tidemark-runner",
            "restore",
            "--policy-namespace",
            "shop",
            "--policy-name",
            "webshop",
            "--s3-bucket",
            "b",
            "--content",
            "data-only",
            "--tables",
            "public.a",
            "--tables",
            "public.b,sales.c",
            "--truncate",
            "--no-clean",
        ])
        .unwrap();
        let Command::Restore(args) = cli.command else {
            panic!("parsed as another subcommand")
        };
        let o = &args.options;
        assert_eq!(o.content, RestoreContent::DataOnly);
        assert_eq!(o.tables, vec!["public.a", "public.b", "sales.c"]);
        assert!(o.truncate && o.no_clean && o.clean && !o.create_database);
        assert_eq!(o.maintenance_database, "postgres");
        assert!(!args.all_databases);
    }

    #[test]
    fn all_databases_is_a_switch_with_an_optional_value() {
        let parse = |extra: &[&str]| {
            let mut argv = vec![
                "tidemark-runner",
                "restore",
                "--policy-namespace",
                "shop",
                "--policy-name",
                "webshop",
                "--s3-bucket",
                "b",
            ];
            argv.extend_from_slice(extra);
            let cli = Cli::try_parse_from(argv).unwrap();
            let Command::Restore(args) = cli.command else {
                panic!("parsed as another subcommand")
            };
            args.all_databases
        };
        assert!(parse(&["--all-databases"]));
        assert!(parse(&["--all-databases=true"]));
        assert!(!parse(&["--all-databases=false"]));
    }
}
