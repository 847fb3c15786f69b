//! The runner's half of the runner-contract cross-check: the environment names each
//! subcommand's command line reads (clap introspection), plus the secrets it reads from
//! the environment directly, must be exactly `crd::contract::env::reads` of that
//! subcommand. The operator's half (`operator/tests/runner_contract.rs`) checks the
//! Jobs it builds against the same lists, so a name one side uses and the other does
//! not fails one of the two tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use clap::CommandFactory;
use tidemark_crd::contract::env::{self as var, COMMANDS, ENVIRONMENT_ONLY, reads};
use tidemark_crd::contract::result::RunnerCommand;
use tidemark_runner::cli::{Cli, Command};

/// Every `env = …` of `cmd`'s arguments.
fn clap_env(cmd: &clap::Command) -> BTreeSet<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

/// The names `command` reads: its command line (with the global arguments), and the
/// secrets read from the environment only.
fn runner_reads(command: RunnerCommand) -> BTreeSet<String> {
    let cli = Cli::command();
    let sub = cli
        .get_subcommands()
        .find(|s| Command::report_name_of(s.get_name()) == Some(command))
        .unwrap_or_else(|| panic!("no subcommand for {command:?}"));
    let mut names = clap_env(&cli);
    names.extend(clap_env(sub));
    // A subcommand with the libpq arguments connects through `pg::connect`, which
    // reads the URI and the password from the environment only.
    if names.contains(var::PG_HOST) {
        names.insert(var::DATABASE_URL.into());
        names.insert(var::PG_PASSWORD.into());
    }
    // A subcommand with the S3 arguments builds the AWS SDK client, whose default
    // credential chain reads the static keys.
    if names.contains(var::S3_BUCKET) {
        for n in [
            var::AWS_ACCESS_KEY_ID,
            var::AWS_SECRET_ACCESS_KEY,
            var::AWS_SESSION_TOKEN,
        ] {
            names.insert(n.into());
        }
    }
    // Subcommands that decrypt read the age identity (`restore::settings::identities_from_env`).
    if matches!(command, RunnerCommand::Restore | RunnerCommand::RestoreTest) {
        names.insert(var::AGE_IDENTITY.into());
    }
    names
}

#[test]
fn every_subcommand_reads_exactly_the_contract() {
    for command in COMMANDS {
        let runner = runner_reads(command);
        let contract: BTreeSet<String> = reads(command).into_iter().map(String::from).collect();
        for name in &runner {
            assert!(
                contract.contains(name),
                "`tidemark-runner {command:?}` reads {name}, which crd::contract::env does not \
                 list for it (add it to operator_sets or, with a reason, to runner_only)"
            );
        }
        for name in &contract {
            assert!(
                runner.contains(name),
                "crd::contract::env lists {name} for {command:?}, but `tidemark-runner \
                 {command:?}` does not read it"
            );
        }
    }
}

#[test]
fn secrets_never_have_a_flag() {
    let cli = Cli::command();
    for sub in cli.get_subcommands() {
        let flagged = clap_env(sub);
        for secret in ENVIRONMENT_ONLY {
            assert!(
                !flagged.contains(*secret),
                "{secret} is a secret and must not be an argument of {}",
                sub.get_name()
            );
        }
    }
}

/// `<subcommand> --help` of the built binary.
fn help_of(subcommand: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidemark-runner"))
        .args([subcommand, "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{subcommand} --help failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn only_backup_help_shows_how_written_objects_are_stored() {
    let backup = help_of("backup");
    for flag in [
        "--s3-sse",
        "--s3-sse-kms-key-id",
        "--s3-storage-class",
        var::S3_SSE,
        var::S3_STORAGE_CLASS,
    ] {
        assert!(
            backup.contains(flag),
            "backup --help lacks {flag}:\n{backup}"
        );
    }
    for subcommand in ["list", "verify", "prune", "restore", "restore-test"] {
        let help = help_of(subcommand);
        // Every subcommand still shows where the bucket is.
        assert!(help.contains("--s3-bucket"), "{subcommand}:\n{help}");
        for absent in ["--s3-sse", "SSE", "--s3-storage-class", "STORAGE_CLASS"] {
            assert!(
                !help.contains(absent),
                "{subcommand} --help mentions {absent}, which it does not use:\n{help}"
            );
        }
    }
}
