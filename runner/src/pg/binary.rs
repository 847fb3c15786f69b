//! Choosing the PostgreSQL client tool for a server: `<root>/<major>/bin/<tool>`, the
//! server's own major when installed, otherwise the nearest newer one.

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

/// The majors (10 and later) that have `tool` installed under `root`, ascending.
pub fn installed_majors(root: &Path, tool: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut majors: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|m| *m >= 10 && root.join(m.to_string()).join("bin").join(tool).is_file())
        .collect();
    majors.sort_unstable();
    majors
}

/// Which installed major's tool to run for a server of `server_major`, when the tool
/// must be at least `min_major` (the server's major; for a restore also the major of
/// the `pg_dump` that wrote the archive): the server's own major when installed and
/// new enough, otherwise the nearest newer installed major. A newer `pg_dump` reads
/// older servers and an older one refuses newer servers; the nearest rather than the
/// newest because newer client tools emit settings older servers reject (`pg_restore`
/// 17 and later sends `SET transaction_timeout`, unknown before PostgreSQL 17), so a
/// dump by the nearest `pg_dump` still restores into its own major.
pub fn choose_major(installed: &[u32], server_major: u32, min_major: u32) -> Option<u32> {
    let floor = min_major.max(server_major);
    if installed.contains(&floor) {
        return Some(floor);
    }
    installed.iter().copied().filter(|m| *m >= floor).min()
}

/// The `tool` to run against a server of `server_version_num` (see [`choose_major`]), or
/// a configuration error naming the server's major and what is installed.
pub fn locate(
    root: &Path,
    server_version_num: u32,
    min_major: u32,
    tool: &'static str,
) -> Result<PathBuf> {
    let server_major = server_version_num / 10_000;
    // Servers before 10 keep their two-part directory names (9.6): only their own.
    if server_major < 10 {
        let path = tool_path(root, server_version_num, tool);
        if path.is_file() {
            return Ok(path);
        }
    }
    let installed = installed_majors(root, tool);
    match choose_major(&installed, server_major, min_major) {
        Some(m) => Ok(root.join(m.to_string()).join("bin").join(tool)),
        None => Err(Error::PgDumpMissing {
            tool,
            major: major_of(server_version_num),
            needed: min_major.max(server_major).to_string(),
            root: root.to_path_buf(),
            installed: if installed.is_empty() {
                "none".to_string()
            } else {
                installed
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

/// The major of a `--version` line: `pg_dump (PostgreSQL) 15.14 (Debian ...)` → 15.
pub fn major_of_version_line(line: &str) -> Option<u32> {
    let version = line.split(") ").nth(1)?.split_whitespace().next()?;
    let major = version.split('.').next()?;
    // "18beta1" and similar pre-releases.
    let digits: String = major.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
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
    fn the_servers_own_major_first_then_the_oldest_newer_one() {
        let installed = [15, 16, 18];
        assert_eq!(choose_major(&installed, 16, 16), Some(16));
        // 13, 14, 17 have no client tools here: the nearest newer one serves them.
        assert_eq!(choose_major(&installed, 13, 13), Some(15));
        assert_eq!(choose_major(&installed, 17, 17), Some(18));
        // A restore of an archive written by pg_dump 18 into a 16 server needs 18.
        assert_eq!(choose_major(&installed, 16, 18), Some(18));
        // Nothing new enough: an older pg_dump refuses a newer server.
        assert_eq!(choose_major(&installed, 19, 19), None);
        assert_eq!(choose_major(&[], 15, 15), None);
    }

    #[test]
    fn installed_majors_need_the_tool_itself() {
        let root = tempfile::tempdir().expect("tempdir");
        for (major, tools) in [
            ("13", &[][..]),
            ("15", &["pg_dump"][..]),
            ("18", &["pg_dump"][..]),
        ] {
            let bin = root.path().join(major).join("bin");
            std::fs::create_dir_all(&bin).expect("mkdir");
            for t in tools {
                std::fs::write(bin.join(t), "").expect("write");
            }
        }
        std::fs::create_dir_all(root.path().join("9.6/bin")).expect("mkdir");
        assert_eq!(installed_majors(root.path(), "pg_dump"), vec![15, 18]);
        let chosen = locate(root.path(), 130023, 13, "pg_dump").expect("a newer one");
        assert_eq!(chosen, root.path().join("15/bin/pg_dump"));
        let e = locate(root.path(), 190001, 19, "pg_dump").expect_err("none new enough");
        let text = e.to_string();
        assert!(text.contains("major 19"), "{text}");
        assert!(text.contains("installed: 15, 18"), "{text}");
    }

    #[test]
    fn version_lines_give_their_major() {
        assert_eq!(major_of_version_line("pg_dump (PostgreSQL) 18.4"), Some(18));
        assert_eq!(
            major_of_version_line("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(
            major_of_version_line("pg_restore (PostgreSQL) 19beta1"),
            Some(19)
        );
        assert_eq!(major_of_version_line("garbage"), None);
    }

    #[test]
    fn missing_major_names_the_path() {
        let e = locate(Path::new("/nonexistent"), 990000, 99, "pg_dump");
        let Err(e) = e else { panic!("must fail") };
        assert!(e.to_string().contains("/nonexistent"), "{e}");
    }
}
