//! docs/restore-by-hand.md, run as written: a real encrypted backup by the runner into
//! SeaweedFS, then the shell blocks between the doc's markers, with bash, the real AWS CLI
//! (from the venv of scripts/setup.sh), `age`, `zstd` and the test server's `pg_restore`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BUCKET, EncryptedBackup, Fixture, SOURCE_DB, seed};
use tidemark_testkit::postgres::TestPostgres;

const BEGIN: &str = "<!-- restore-by-hand:begin";
const END: &str = "<!-- restore-by-hand:end";
const GLOBALS_BEGIN: &str = "<!-- restore-by-hand-globals:begin";
const GLOBALS_END: &str = "<!-- restore-by-hand-globals:end";

/// The `sh` code blocks between the doc's main markers, in order.
fn doc_commands() -> String {
    doc_section(BEGIN, END)
}

/// The `sh` code blocks between the markers `begin` and `end`, in order.
fn doc_section(begin: &str, end: &str) -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/restore-by-hand.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    let start = text
        .find(begin)
        .expect("begin marker in docs/restore-by-hand.md");
    let end = text
        .find(end)
        .expect("end marker in docs/restore-by-hand.md");
    let mut script = String::new();
    let mut in_block = false;
    for line in text[start..end].lines() {
        match (in_block, line.trim()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, _) => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(
        !in_block,
        "unterminated code block in docs/restore-by-hand.md"
    );
    script
}

/// The AWS CLI of the project's venv (scripts/setup.sh installs it), else from PATH.
fn aws_bin_dir() -> PathBuf {
    let venv = std::env::var_os("TIDEMARK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tidemark/venv"));
    let bin = venv.join("bin");
    assert!(
        bin.join("aws").exists(),
        "the AWS CLI is not in {} (run scripts/setup.sh)",
        bin.display()
    );
    bin
}

/// Runs `script` with bash as a person would after setting the doc's variables for this
/// fixture (Fixture::backup's prefix, namespace and policy) and giving the AWS CLI the S3
/// server's endpoint and keys the way the doc says.
fn run_as_documented(fx: &Fixture, script: &str, target_db: &str, work: &Path) -> Output {
    run_on(fx, &fx.pg, script, target_db, work)
}

/// [`run_as_documented`] with the PostgreSQL tools and libpq variables of `target`.
fn run_on(
    fx: &Fixture,
    target: &TestPostgres,
    script: &str,
    target_db: &str,
    work: &Path,
) -> Output {
    let s3: HashMap<String, String> = fx.s3.runner_env(BUCKET).into_iter().collect();
    let path = format!(
        "{}:{}:{}",
        aws_bin_dir().display(),
        target.bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", work)
        .env("BUCKET", BUCKET)
        .env("PREFIX", "tidemark")
        .env("NAMESPACE", "shop")
        .env("POLICY", "webshop")
        .env("TARGET_DB", target_db)
        .env("AWS_ENDPOINT_URL", &s3["TIDEMARK_S3_ENDPOINT"])
        .env("AWS_DEFAULT_REGION", &s3["AWS_REGION"])
        .env("AWS_ACCESS_KEY_ID", &s3["AWS_ACCESS_KEY_ID"])
        .env("AWS_SECRET_ACCESS_KEY", &s3["AWS_SECRET_ACCESS_KEY"])
        .envs(
            target
                .env("postgres")
                .into_iter()
                .filter(|(k, _)| k != "PGDATABASE"),
        )
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_commands_restore_a_backup_by_hand() {
    let script = doc_commands();
    for tool in [
        "aws s3 ls",
        "aws s3 cp",
        "sha256sum -c",
        "age -d",
        "zstd -d",
        "pg_restore",
    ] {
        assert!(script.contains(tool), "the doc's commands lost `{tool}`");
    }

    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 3_000);
    let EncryptedBackup { identity, .. } = fx.encrypted_backup().await;

    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("identity.txt"),
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&identity.to_string())
        ),
    )
    .unwrap();

    let output = run_as_documented(&fx, &script, "by_hand", work.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the documented commands failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(": OK"),
        "sha256sum -c did not confirm: {stdout}"
    );
    assert_eq!(
        fx.pg.fingerprints("by_hand").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap(),
        "the restored database differs from the source"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_download_is_stopped_by_the_documented_checksum_step() {
    let script = doc_commands();
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 100);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let work = tempfile::tempdir().unwrap();
    // Corrupt the file right after the download step, before the checksum step.
    let tampered = script.replacen("SHA256=", "printf 'x' >> \"$BACKUP\"\nSHA256=", 1);
    assert_ne!(tampered, script, "the doc has no checksum step");
    let output = run_as_documented(&fx, &tampered, "never_created", work.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "a corrupted file passed: {stdout}"
    );
    assert!(
        stdout.contains("FAILED"),
        "sha256sum did not report it: {stdout}"
    );
    let databases = fx
        .pg
        .psql("postgres", "SELECT datname FROM pg_database")
        .unwrap();
    assert!(
        !databases.contains("never_created"),
        "the restore went ahead after a failed checksum"
    );
}

/// Roles, owners, grants and settings the test compares between the servers.
const GLOBALS_VIEW: &str = "\
SELECT 'role ' || rolname || ' login=' || rolcanlogin || ' limit=' || rolconnlimit FROM pg_roles \
WHERE rolname IN ('app_owner', 'reporting', 'unrelated') \
UNION ALL SELECT 'member ' || g.rolname || '>' || m.rolname FROM pg_auth_members a \
JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
WHERE m.rolname IN ('app_owner', 'reporting') \
UNION ALL SELECT 'owner ' || relname || ' ' || pg_get_userbyid(relowner) FROM pg_class \
WHERE relname = 'orders' \
UNION ALL SELECT 'grant ' || grantee || ' ' || privilege_type \
FROM information_schema.table_privileges WHERE table_name = 'orders' \
UNION ALL SELECT 'db ' || pg_get_userbyid(datdba) || ' ' || pg_encoding_to_char(encoding) \
FROM pg_database WHERE datname = current_database() \
UNION ALL SELECT 'setting ' || array_to_string(setconfig, ',') FROM pg_db_role_setting s \
JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database() \
ORDER BY 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_commands_recreate_roles_and_settings_on_a_new_server() {
    let script = doc_section(GLOBALS_BEGIN, GLOBALS_END);
    for tool in [
        "aws s3 cp",
        "sha256sum -c",
        "age -d",
        "zstd -d",
        "psql",
        "pg_restore",
    ] {
        assert!(script.contains(tool), "the doc's commands lost `{tool}`");
    }
    let fx = Fixture::seaweed().await;
    fx.pg
        .psql(
            "postgres",
            "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw' CONNECTION LIMIT 9; \
             CREATE ROLE reporting NOLOGIN; CREATE ROLE unrelated LOGIN; \
             GRANT reporting TO app_owner; \
             ALTER DATABASE shop OWNER TO app_owner; \
             ALTER DATABASE shop SET work_mem TO '12MB'",
        )
        .unwrap();
    fx.pg
        .psql(
            SOURCE_DB,
            "SET ROLE app_owner; CREATE TABLE orders (id int PRIMARY KEY); \
             INSERT INTO orders SELECT generate_series(1, 30); \
             GRANT SELECT ON orders TO reporting",
        )
        .unwrap();
    let EncryptedBackup { identity, .. } = fx.encrypted_backup().await;

    // A second, empty server: none of the roles.
    let target = TestPostgres::start().unwrap();
    assert_eq!(
        target
            .psql(
                "postgres",
                "SELECT count(*) FROM pg_roles WHERE rolname = 'app_owner'"
            )
            .unwrap(),
        "0"
    );
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("identity.txt"),
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&identity.to_string())
        ),
    )
    .unwrap();
    let output = run_on(&fx, &target, &script, "by_hand", work.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the documented commands failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        stdout.matches(": OK").count(),
        2,
        "both checksums: {stdout}"
    );
    let wanted = fx
        .pg
        .psql(SOURCE_DB, GLOBALS_VIEW)
        .unwrap()
        .replace("role unrelated login=true limit=-1\n", "");
    assert!(wanted.contains("grant reporting SELECT"), "{wanted}");
    assert_eq!(target.psql("by_hand", GLOBALS_VIEW).unwrap(), wanted);
    assert_eq!(
        target.fingerprints("by_hand").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );
}
