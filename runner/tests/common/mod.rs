//! Shared fixtures of the runner's integration tests: a throwaway PostgreSQL with
//! seeded data, an S3 server with a bucket, and helpers to run the real binary and
//! to restore what it stored.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

pub mod proxy;

use tidemark_crd::contract::manifest::Manifest;
use tidemark_testkit::postgres::TestPostgres;
use tidemark_testkit::runner::RunnerCommand;
use tidemark_testkit::s3::{self, S3Server};

pub const BIN: &str = env!("CARGO_BIN_EXE_tidemark-runner");
pub const BUCKET: &str = "backups";
pub const SOURCE_DB: &str = "shop";

/// What [`Fixture::encrypted_backup`] made.
pub struct EncryptedBackup {
    pub identity: age::x25519::Identity,
    pub recipient: String,
    pub data_key: String,
    pub manifest_key: String,
}

/// A database server, an S3 server with a bucket.
pub struct Fixture {
    pub pg: TestPostgres,
    pub s3: S3Server,
}

impl Fixture {
    /// PostgreSQL + SeaweedFS.
    pub async fn seaweed() -> Fixture {
        Self::with(S3Server::seaweedfs().expect("start SeaweedFS")).await
    }

    /// PostgreSQL + the given S3 server.
    pub async fn with(s3: S3Server) -> Fixture {
        let pg = TestPostgres::start().expect("start PostgreSQL");
        s3.create_bucket(BUCKET).await.expect("create bucket");
        pg.create_database(SOURCE_DB).unwrap();
        Fixture { pg, s3 }
    }

    /// A runner invocation of `backup` against the source database.
    pub fn backup(&self, extra: &[(&str, &str)]) -> RunnerCommand {
        let mut env = self.pg.env(SOURCE_DB);
        env.extend(self.s3.runner_env(BUCKET));
        env.extend(
            [
                ("TIDEMARK_POLICY_NAMESPACE", "shop"),
                ("TIDEMARK_POLICY_NAME", "webshop"),
                ("TIDEMARK_S3_PREFIX", "tidemark"),
                ("TIDEMARK_COMPRESSION_THREADS", "2"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        env.push((
            "TIDEMARK_PG_BIN_ROOT".into(),
            self.pg.bin_root().display().to_string(),
        ));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        RunnerCommand::new(Path::new(BIN), &["backup"], &env).unwrap()
    }

    /// A runner invocation of `restore` or `restore-test` reading the policy's backups
    /// into database `db` of the test server.
    pub fn restore_run(&self, subcommand: &str, db: &str, extra: &[(&str, &str)]) -> RunnerCommand {
        let mut env = self.pg.env(db);
        env.extend(self.s3.runner_env(BUCKET));
        env.extend(
            [
                ("TIDEMARK_POLICY_NAMESPACE", "shop"),
                ("TIDEMARK_POLICY_NAME", "webshop"),
                ("TIDEMARK_S3_PREFIX", "tidemark"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        env.push((
            "TIDEMARK_PG_BIN_ROOT".into(),
            self.pg.bin_root().display().to_string(),
        ));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        RunnerCommand::new(Path::new(BIN), &[subcommand], &env).unwrap()
    }

    /// All keys the policy has in the bucket.
    pub async fn keys(&self) -> Vec<String> {
        s3::list_keys(&self.s3.client(), BUCKET, "tidemark/")
            .await
            .unwrap()
    }

    pub async fn pending_uploads(&self) -> Vec<String> {
        s3::pending_uploads(&self.s3.client(), BUCKET)
            .await
            .unwrap()
    }

    pub async fn download(&self, key: &str) -> Vec<u8> {
        s3::download(&self.s3.client(), BUCKET, key).await.unwrap()
    }

    /// The `sha256` object tag of `key` (the default way the data object carries it).
    pub async fn sha256_tag(&self, key: &str) -> Option<String> {
        let tags = self
            .s3
            .client()
            .get_object_tagging()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        tags.tag_set()
            .iter()
            .find(|t| t.key() == "sha256")
            .map(|t| t.value().to_string())
    }

    /// A successful age-encrypted backup of the source database: the identity that
    /// decrypts it, its recipient, and the data and manifest keys.
    pub async fn encrypted_backup(&self) -> EncryptedBackup {
        let (identity, recipient) = age_keypair();
        let out = self
            .backup(&[("TIDEMARK_AGE_RECIPIENTS", &recipient)])
            .run()
            .unwrap();
        assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
        let (data_key, manifest_key) = split_keys(&self.keys().await);
        EncryptedBackup {
            identity,
            recipient,
            data_key,
            manifest_key,
        }
    }

    pub async fn manifest(&self, key: &str) -> Manifest {
        serde_json::from_slice(&self.download(key).await).unwrap()
    }

    /// Restores a custom-format dump (already decrypted and decompressed) into a new
    /// database with pg_restore.
    pub fn pg_restore(&self, dump: &[u8], target: &str) {
        self.pg.create_database(target).unwrap();
        let mut child = self
            .pg
            .tool("pg_restore", target)
            .args(["--no-owner", "--exit-on-error", "-d", target])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(dump).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "pg_restore: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restores a plain SQL dump with psql.
    pub fn psql_restore(&self, sql: &[u8], target: &str) {
        self.pg.create_database(target).unwrap();
        let mut child = self
            .pg
            .tool("psql", target)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(sql).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql restore: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Seeds the source database: several schemas, types (jsonb, bytea, numeric,
/// timestamps, text with quotes and newlines), a mixed-case table, `rows` orders.
pub fn seed(pg: &TestPostgres, rows: u32) {
    pg.psql(
        SOURCE_DB,
        &format!(
            r#"
CREATE SCHEMA sales;
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE,
  created timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z');
CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES public.customers,
  total numeric(12,2), items jsonb, note text, blob bytea);
CREATE TABLE public."Audit Log" (id int, "Message" text);
CREATE TABLE public.empty_table (id int);
INSERT INTO public.customers (name, email)
  SELECT 'customer ' || g || E' with ''quotes'' and\nnewlines', 'c' || g || '@example.test'
  FROM generate_series(1, 500) g;
INSERT INTO sales.orders (customer_id, total, items, note, blob)
  SELECT 1 + g % 500, (g * 7.31)::numeric(12,2),
         jsonb_build_object('sku', 'SKU-' || g, 'qty', g % 9, 'tags', jsonb_build_array('a', g::text)),
         md5(g::text) || repeat(md5((g * 3)::text), 3), decode(md5(g::text), 'hex')
  FROM generate_series(1, {rows}) g;
INSERT INTO public."Audit Log" SELECT g, 'event ' || g FROM generate_series(1, 77) g;
ANALYZE;
"#
        ),
    )
    .unwrap();
}

/// age identity (secret) and its recipient (public key).
pub fn age_keypair() -> (age::x25519::Identity, String) {
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    (id, recipient)
}

/// Decrypts an age file with the crate.
pub fn age_decrypt(data: &[u8], id: &age::x25519::Identity) -> Vec<u8> {
    let decryptor = age::Decryptor::new(data).unwrap();
    let mut reader = decryptor
        .decrypt(std::iter::once(id as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

/// Decompresses zstd.
pub fn unzstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(data).unwrap()
}

/// The data key and the manifest key among `keys`.
pub fn split_keys(keys: &[String]) -> (String, String) {
    assert_eq!(
        keys.len(),
        2,
        "expected one object and one manifest: {keys:?}"
    );
    let manifest = keys
        .iter()
        .find(|k| k.ends_with(".manifest.json"))
        .unwrap()
        .clone();
    let data = keys
        .iter()
        .find(|k| !k.ends_with(".manifest.json"))
        .unwrap()
        .clone();
    (data, manifest)
}

/// Row counts of fingerprints.
pub fn counts(fp: &BTreeMap<String, (i64, String)>) -> BTreeMap<String, i64> {
    fp.iter().map(|(k, (c, _))| (k.clone(), *c)).collect()
}

/// An empty tool root laid out like the server's (`<root>/<major>/bin`, created), for
/// wrappers around the real tools: the root and its bin directory.
pub fn tool_root(pg: &TestPostgres) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let major = pg
        .bin_dir()
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_owned();
    let bin = root.path().join(major).join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    (root, bin)
}

/// A `<root>/<major>/bin/pg_dump` wrapper that runs the real pg_dump, passes on the
/// first `bytes` bytes and then kills itself with SIGKILL.
pub fn dying_pg_dump(pg: &TestPostgres, bytes: u64) -> (tempfile::TempDir, PathBuf) {
    let (root, bin) = tool_root(pg);
    let real = pg.bin_dir().join("pg_dump");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then exec {real} --version; fi\n\
         {real} \"$@\" | head -c {bytes}\nkill -9 $$\n",
        real = real.display()
    );
    let path = bin.join("pg_dump");
    std::fs::write(&path, script).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&path).unwrap().permissions(),
        0o755,
    );
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    let root_path = root.path().to_path_buf();
    (root, root_path)
}

// ---------------------------------------------------------------------------------
// Stored backups without pg_dump (verify, prune, list): tiny objects and manifests
// written directly, and runs of the runner against a policy.
// ---------------------------------------------------------------------------------

/// A runner invocation of `subcommand` for policy `shop/<policy>` under prefix
/// `tidemark`, against `s3`'s bucket [`BUCKET`].
pub fn policy_run(
    s3: &S3Server,
    subcommand: &str,
    policy: &str,
    extra: &[(&str, &str)],
) -> RunnerCommand {
    let mut env = s3.runner_env(BUCKET);
    env.extend(
        [
            ("TIDEMARK_POLICY_NAMESPACE", "shop"),
            ("TIDEMARK_POLICY_NAME", policy),
            ("TIDEMARK_S3_PREFIX", "tidemark"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    RunnerCommand::new(Path::new(BIN), &[subcommand], &env).unwrap()
}

/// Uploads `body` as `key`.
pub async fn put_object(s3: &S3Server, key: &str, body: Vec<u8>) {
    s3.client()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// The data key of policy `shop/<policy>` for a backup started at `started`.
pub fn synthetic_key(policy: &str, started: chrono::DateTime<chrono::Utc>) -> String {
    tidemark_crd::contract::keys::backup_key("tidemark", "shop", policy, started, "dump.zst")
}

/// A manifest describing `body` stored as `key`, completed at `completed`.
pub fn synthetic_manifest(
    key: &str,
    policy: &str,
    completed: chrono::DateTime<chrono::Utc>,
    body: &[u8],
) -> Manifest {
    use tidemark_crd::contract::manifest::{CompressionTag, DumpFormatTag, RowCountModeTag};
    Manifest {
        format_version: 1,
        policy_namespace: "shop".into(),
        policy_name: policy.into(),
        key: key.into(),
        started_at: completed - chrono::TimeDelta::minutes(2),
        completed_at: completed,
        stored_size: body.len() as u64,
        raw_size: body.len() as u64 * 3,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)),
        dump_format: DumpFormatTag::Custom,
        compression: CompressionTag::Zstd,
        compression_level: Some(3),
        encryption_recipients: vec![],
        server_version: "17.0".into(),
        server_version_num: 170_000,
        pg_dump_version: "pg_dump (PostgreSQL) 17.0".into(),
        database: SOURCE_DB.into(),
        row_count_mode: RowCountModeTag::Exact,
        tables: BTreeMap::from([("public.t".to_string(), 42)]),
        runner_version: "0.0.0-test".into(),
        globals: None,
        run: None,
    }
}

/// Stores a synthetic backup of `policy` (data object `body`, then its manifest),
/// started two minutes before `completed`; returns its data key.
pub async fn put_backup(
    s3: &S3Server,
    policy: &str,
    completed: chrono::DateTime<chrono::Utc>,
    body: Vec<u8>,
) -> String {
    let key = synthetic_key(policy, completed - chrono::TimeDelta::minutes(2));
    let manifest = synthetic_manifest(&key, policy, completed, &body);
    put_object(s3, &key, body).await;
    put_object(
        s3,
        &tidemark_crd::contract::keys::manifest_key(&key),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .await;
    key
}

/// All keys in the bucket.
pub async fn all_keys(s3: &S3Server) -> Vec<String> {
    s3::list_keys(&s3.client(), BUCKET, "").await.unwrap()
}

/// Starts a multipart upload of `key` (left open); returns its upload id.
pub async fn open_upload(s3: &S3Server, key: &str) -> String {
    let out = s3
        .client()
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    out.upload_id().unwrap().to_string()
}

/// An S3 server with the bucket, without PostgreSQL.
pub async fn seaweed_bucket() -> S3Server {
    let s3 = S3Server::seaweedfs().expect("start SeaweedFS");
    s3.create_bucket(BUCKET).await.expect("create bucket");
    s3
}
