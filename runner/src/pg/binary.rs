//! Choosing the `pg_dump` of the server's major version: `<root>/<major>/bin/pg_dump`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The major version label of a `server_version_num` (`150014` → `15`, `90624` → `9.6`).
pub fn major_of(server_version_num: u32) -> String {
    if server_version_num >= 100_000 {
        (server_version_num / 10_000).to_string()
    } else {
        format!(
            "{}.{}",
            server_version_num / 10_000,
            (server_version_num / 100) % 100
        )
    }
}

/// Where the binary `tool` of a server version lives under `root`.
pub fn tool_path(root: &Path, server_version_num: u32, tool: &str) -> PathBuf {
    root.join(major_of(server_version_num))
        .join("bin")
        .join(tool)
}

/// The existing `tool` for the server's major, or a configuration error naming the
/// path that is missing.
pub fn locate(root: &Path, server_version_num: u32, tool: &str) -> Result<PathBuf> {
    let path = tool_path(root, server_version_num, tool);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::PgDumpMissing {
            major: major_of(server_version_num),
            path,
        })
    }
}

/// The version line `pg_dump --version` prints, e.g. `pg_dump (PostgreSQL) 15.14`.
pub async fn version_of(path: &Path) -> Result<String> {
    let out = tokio::process::Command::from(crate::pg::env::command(path, &[]))
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| Error::PgDump(format!("cannot run {} --version: {e}", path.display())))?;
    if !out.status.success() {
        return Err(Error::PgDump(format!(
            "{} --version exited with {}",
            path.display(),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_follow_postgres_numbering() {
        assert_eq!(major_of(150014), "15");
        assert_eq!(major_of(170002), "17");
        assert_eq!(major_of(100023), "10");
        assert_eq!(major_of(90624), "9.6");
    }

    #[test]
    fn binary_path_is_root_major_bin() {
        let p = tool_path(Path::new("/usr/lib/postgresql"), 160004, "pg_dump");
        assert_eq!(p, PathBuf::from("/usr/lib/postgresql/16/bin/pg_dump"));
    }

    #[test]
    fn missing_major_names_the_path() {
        let e = locate(Path::new("/nonexistent"), 990000, "pg_dump");
        let Err(e) = e else { panic!("must fail") };
        assert!(e.to_string().contains("/nonexistent/99/bin/pg_dump"));
    }
}
