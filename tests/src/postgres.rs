//! A throwaway PostgreSQL cluster per test: initdb into a temp dir, a random free port,
//! 127.0.0.1 only, durability off (fsync, full-page writes) for speed, password
//! authentication over TCP so the runner's password handling is exercised. When the
//! tests run as root, the cluster runs as the `postgres` system user (PostgreSQL
//! refuses root). The server is stopped on Drop.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::tools;

/// Superuser of the test clusters.
pub const SUPERUSER: &str = "postgres";
/// Its password (test-only).
pub const PASSWORD: &str = "tidemark-test-pw";

/// A running throwaway PostgreSQL.
pub struct TestPostgres {
    dir: TempDir,
    /// The server's binaries (`postgres`, `initdb`).
    bin: PathBuf,
    /// Client tools (`psql`, `pg_dump`, `pg_isready`): the server's own when it has them.
    client_bin: PathBuf,
    port: u16,
    child: Option<Child>,
    /// CA certificate (PEM) of the server certificate, when TLS is on.
    tls_ca: Option<PathBuf>,
}

impl TestPostgres {
    /// initdb + start; waits until the server accepts connections.
    pub fn start() -> Result<Self> {
        let bin = tools::pg_bin_dir()?;
        Self::start_with(false, bin.clone(), bin)
    }

    /// A server of PostgreSQL `major` (13–18) from the version-matrix installs
    /// (`scripts/pg-majors.sh`, [`majors_root`]). Its client tools are its own when the
    /// install has them, otherwise the newest installed major's.
    pub fn start_major(major: u32) -> Result<Self> {
        let root = majors_root()?;
        let bin = root.join(major.to_string()).join("bin");
        if !bin.join("postgres").is_file() {
            bail!(
                "no PostgreSQL {major} server under {}; run `bash scripts/pg-majors.sh`",
                root.display()
            );
        }
        let client_bin = if bin.join("psql").is_file() {
            bin.clone()
        } else {
            newest_client(&root)?
        };
        Self::start_with(false, bin, client_bin)
    }

    /// Like [`Self::start`], but TCP connections must use TLS (`hostssl` only) with a
    /// server certificate for `localhost`/127.0.0.1 signed by a fresh test CA
    /// ([`Self::tls_ca`]).
    pub fn start_tls() -> Result<Self> {
        let bin = tools::pg_bin_dir()?;
        Self::start_with(true, bin.clone(), bin)
    }

    fn start_with(tls: bool, bin: PathBuf, client_bin: PathBuf) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("tidemark-pg-")
            .tempdir()
            .context("creating the cluster temp dir")?;
        let owner = if tools::running_as_root() {
            let (uid, gid) = tools::system_user("postgres")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("chown of the cluster dir to postgres")?;
            Some((uid, gid))
        } else {
            None
        };
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()));
        as_owner(&mut initdb, owner);
        let out = initdb.output().context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let tls_ca = if tls {
            Some(make_certificates(dir.path(), &data, owner)?)
        } else {
            None
        };
        let port = tools::free_port()?;
        let log = std::fs::File::create(dir.path().join("postgres.log"))?;
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=40"])
            .args(["-c", "shared_buffers=64MB", "-c", "max_wal_size=2GB"])
            .args(if tls { &["-c", "ssl=on"][..] } else { &[][..] })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        as_owner(&mut postgres, owner);
        let child = postgres.spawn().context("starting postgres")?;
        let pg = Self {
            dir,
            bin,
            client_bin,
            port,
            child: Some(child),
            tls_ca,
        };
        pg.wait_ready()?;
        Ok(pg)
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(self.client_bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("postgres.log"))
                    .unwrap_or_default();
                bail!("PostgreSQL did not become ready in 30 s; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Directory of the PostgreSQL client tools used with this server.
    pub fn bin_dir(&self) -> &Path {
        &self.client_bin
    }

    /// The server's major version (`server_version_num / 10000`).
    pub fn major(&self) -> Result<u32> {
        let num: u32 = self
            .psql("postgres", "SHOW server_version_num")?
            .parse()
            .context("server_version_num")?;
        Ok(num / 10_000)
    }

    /// The root that holds `<major>/bin` (for `TIDEMARK_PG_BIN_ROOT`).
    pub fn bin_root(&self) -> PathBuf {
        self.bin
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql"))
    }

    /// libpq environment to reach database `db` (includes the password).
    pub fn env(&self, db: &str) -> Vec<(String, String)> {
        vec![
            ("PGHOST".into(), "127.0.0.1".into()),
            ("PGPORT".into(), self.port.to_string()),
            ("PGUSER".into(), SUPERUSER.into()),
            ("PGPASSWORD".into(), PASSWORD.into()),
            ("PGDATABASE".into(), db.into()),
            (
                "PGSSLMODE".into(),
                if self.tls_ca.is_some() {
                    "require"
                } else {
                    "disable"
                }
                .into(),
            ),
        ]
    }

    /// The CA certificate of a TLS cluster.
    pub fn tls_ca(&self) -> Option<&Path> {
        self.tls_ca.as_deref()
    }

    /// A client-tool command (`psql`, `pg_restore`, `pgbench`…) aimed at `db`.
    pub fn tool(&self, name: &str, db: &str) -> Command {
        let mut cmd = Command::new(self.client_bin.join(name));
        cmd.envs(self.env(db));
        cmd
    }

    /// Runs SQL with psql (stop on error) and returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = self
            .tool("psql", db)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!(
                "psql failed on `{}`: {}",
                sql.chars().take(200).collect::<String>(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) -> Result<()> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(())
    }

    /// Per table (`schema.table`): row count and an md5 over all rows in a canonical
    /// order — equal fingerprints mean equal contents.
    pub fn fingerprints(&self, db: &str) -> Result<BTreeMap<String, (i64, String)>> {
        let tables = self.psql(
            db,
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
        )?;
        let mut out = BTreeMap::new();
        for table in tables.lines().filter(|l| !l.is_empty()) {
            let row = self.psql(
                db,
                &format!(
                    "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') \
                     FROM {table} t"
                ),
            )?;
            let (count, md5) = row.split_once('|').context("fingerprint row")?;
            out.insert(table.replace('"', ""), (count.parse()?, md5.to_string()));
        }
        Ok(out)
    }

    /// `pg_dump <args>` of database `db` on the server at `port`, run with this server's
    /// client tools, without comments, session settings and the per-run restrict keys:
    /// equal outputs mean equal objects (and data, unless `--schema-only`); the rows of each
    /// table are sorted ([`rows_sorted`]).
    pub fn normalised_dump_at(&self, port: u16, db: &str, args: &[&str]) -> Result<String> {
        let out = self
            .tool("pg_dump", db)
            .env("PGPORT", port.to_string())
            .args(args)
            .output()
            .context("running pg_dump")?;
        if !out.status.success() {
            bail!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| {
                !(l.is_empty()
                    || l.starts_with("--")
                    || l.starts_with("SET ")
                    || l.starts_with("SELECT pg_catalog.set_config")
                    || l.starts_with("\\restrict")
                    || l.starts_with("\\unrestrict"))
            })
            .map(str::to_owned)
            .collect();
        Ok(rows_sorted(lines).join("\n"))
    }

    /// The cluster directory (logs live there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Sorts the rows of each `COPY … FROM stdin;` block of a plain dump: a table's content
/// is its rows, not their physical order (a parallel restore loads one table through
/// several connections, and pg_dump reads rows in physical order).
pub fn rows_sorted(mut lines: Vec<String>) -> Vec<String> {
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("COPY ") && lines[i].ends_with("FROM stdin;") {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end] != "\\." {
                end += 1;
            }
            lines[start..end].sort();
            i = end;
        }
        i += 1;
    }
    lines
}

/// Where `scripts/pg-majors.sh` installed a `<major>/bin` per supported major:
/// `TIDEMARK_PG_MAJORS`, or the script's default cache.
pub fn majors_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TIDEMARK_PG_MAJORS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let cache = if tools::running_as_root() {
        PathBuf::from("/var/cache/tidemark")
    } else if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(xdg).join("tidemark")
    } else {
        PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".cache/tidemark")
    };
    let root = cache.join("pg").join("root");
    if !root.is_dir() {
        bail!(
            "no PostgreSQL version matrix at {}; run `bash scripts/pg-majors.sh`",
            root.display()
        );
    }
    Ok(root)
}

/// The `bin` of the newest installed major that has the client tools.
fn newest_client(root: &Path) -> Result<PathBuf> {
    let mut majors: Vec<u32> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|m: &u32| root.join(m.to_string()).join("bin/psql").is_file())
        .collect();
    majors.sort_unstable();
    match majors.pop() {
        Some(m) => Ok(root.join(m.to_string()).join("bin")),
        None => bail!("no client tools (psql) under {}", root.display()),
    }
}

/// Creates a test CA and server certificate, copies the server pair into the data
/// directory and switches TCP to `hostssl` only; returns the CA.
fn make_certificates(dir: &Path, data: &Path, owner: Option<(u32, u32)>) -> Result<PathBuf> {
    let certs = tools::make_test_certificates(dir)?;
    for (source, name) in [(&certs.cert, "server.crt"), (&certs.key, "server.key")] {
        let target = data.join(name);
        std::fs::copy(source, &target)?;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&target, Some(uid), Some(gid))?;
        }
    }
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\n\
         hostssl all all 127.0.0.1/32 scram-sha-256\n\
         hostssl all all ::1/128 scram-sha-256\n",
    )?;
    Ok(certs.ca)
}

fn as_owner(cmd: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fast shutdown (SIGINT) lets PostgreSQL remove its shared memory.
            let _ = tools::signal(child.id(), "INT");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}
