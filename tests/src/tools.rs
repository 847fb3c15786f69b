//! Finding the external programs the tests start (PostgreSQL, SeaweedFS, moto), free
//! ports and the workspace root. Nothing is skipped silently: a missing tool is an
//! error that says how to install it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// The venv `scripts/setup.sh` creates.
pub fn venv_bin() -> PathBuf {
    workspace_root().join(".tidemark/venv/bin")
}

/// A program from PATH or from the project's venv; an error naming `scripts/setup.sh`
/// when it is in neither.
pub fn find_program(name: &str) -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let candidate = venv_bin().join(name);
    if candidate.is_file() {
        return Ok(candidate);
    }
    bail!(
        "`{name}` is neither on PATH nor in {}; run scripts/setup.sh (it installs the \
         test servers) and run the tests through scripts/test",
        venv_bin().display()
    )
}

/// The PostgreSQL bin directory: `TIDEMARK_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn pg_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TIDEMARK_PG_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql; run scripts/setup.sh to install PostgreSQL")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    match majors.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no PostgreSQL under /usr/lib/postgresql; run scripts/setup.sh"),
    }
}

/// `n` distinct free TCP ports on 127.0.0.1 (all held while choosing, then released).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("binding a free port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// One free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    free_ports(1)?.pop().context("no free port")
}

/// Uid and gid of a system user, read from /etc/passwd.
pub fn system_user(name: &str) -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == name {
            return Ok((fields[2].parse()?, fields[3].parse()?));
        }
    }
    bail!(
        "no system user `{name}` (installed with Debian's postgresql package; run scripts/setup.sh)"
    )
}

/// Whether the tests run as root (PostgreSQL then runs as the `postgres` user).
pub fn running_as_root() -> bool {
    // The owner of /proc/self is the effective uid of this process.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Sends a signal by name (`INT`, `QUIT`, `KILL`, `STOP`…) to a process id.
pub fn signal(pid: u32, name: &str) -> Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

/// A test CA and a server certificate signed by it.
#[derive(Clone, Debug)]
pub struct TestCertificates {
    /// CA certificate (PEM).
    pub ca: PathBuf,
    /// Server certificate (PEM) for `localhost` and 127.0.0.1.
    pub cert: PathBuf,
    /// Server private key (PEM).
    pub key: PathBuf,
}

/// Writes a fresh CA and a server certificate (CN localhost, SAN localhost and
/// 127.0.0.1) into `dir` with the openssl CLI.
pub fn make_test_certificates(dir: &Path) -> Result<TestCertificates> {
    let run = |args: &[&str]| -> Result<()> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .context("running openssl (install the openssl package)")?;
        if !out.status.success() {
            bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )?;
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=tidemark-test-ca",
    ])?;
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ])?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ])?;
    Ok(TestCertificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    })
}
