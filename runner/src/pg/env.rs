//! The one place where a child process (`pg_dump`, `pg_restore`, `psql`) gets its
//! environment: it starts from an empty environment, keeps only harmless variables of
//! the runner's own (locale, time zone, `PATH`, temporary directory) and adds exactly
//! what its spec names. So no child ever inherits the S3 keys, the age identity, the
//! database URL or a password it does not need.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Variables passed on from the runner's environment to every child.
const INHERITED: &[&str] = &["PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR"];

/// Whether the runner's variable `name` is passed on to children.
pub fn inherited(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    INHERITED.contains(&name) || name.starts_with("LC_")
}

/// A command for `binary` whose environment is [`INHERITED`] plus `env`, nothing else.
pub fn command(binary: &Path, env: &[(&'static str, String)]) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_clear();
    cmd.envs(std::env::vars_os().filter(|(k, _)| inherited(k)));
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_locale_path_and_time_zone_are_inherited() {
        for name in ["PATH", "LANG", "LC_ALL", "LC_MESSAGES", "TZ"] {
            assert!(inherited(OsStr::new(name)), "{name}");
        }
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN",
            tidemark_crd::contract::env::AGE_IDENTITY,
            tidemark_crd::contract::env::DATABASE_URL,
            "PGPASSWORD",
            "PGPASSFILE",
            "HOME",
        ] {
            assert!(!inherited(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn a_child_sees_only_what_it_is_given() {
        let out = command(Path::new("/usr/bin/env"), &[("PGUSER", "u".into())])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let names: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        assert!(names.contains(&"PGUSER"), "{text}");
        assert!(
            names
                .iter()
                .all(|n| *n == "PGUSER" || inherited(OsStr::new(n))),
            "{text}"
        );
    }
}
