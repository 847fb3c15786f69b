//! Finding the workspace's own binaries (`tidemark-operator`, `tidemark-runner`) for
//! tests outside their crates.
//!
//! Cargo sets `CARGO_BIN_EXE_<name>` only for the integration tests of the crate that
//! defines the binary, so tests in this crate look, in order, at:
//! 1. `TIDEMARK_OPERATOR_BIN` / `TIDEMARK_RUNNER_BIN` (explicit paths);
//! 2. the profile directory of the running executable (`target/<profile>/` for a test in
//!    `target/<profile>/deps/`, or for a binary in `target/<profile>/`);
//! 3. `$CARGO_TARGET_DIR/debug/`, then `<workspace>/target/debug/`.
//!
//! `cargo test --workspace` (and so `scripts/test`) builds both binaries before it runs
//! any test. With `cargo test -p tidemark-testkit` build them first:
//! `cargo build -p tidemark-operator -p tidemark-runner`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::tools;

/// The operator binary.
pub fn operator() -> Result<PathBuf> {
    find("tidemark-operator", "TIDEMARK_OPERATOR_BIN")
}

/// The runner binary.
pub fn runner() -> Result<PathBuf> {
    find("tidemark-runner", "TIDEMARK_RUNNER_BIN")
}

fn candidates(name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    if let Some(dir) = exe_dir {
        if let Some(profile) = dir.parent().filter(|_| dir.ends_with("deps")) {
            dirs.push(profile.to_path_buf());
        }
        dirs.push(dir);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(target).join("debug"));
    }
    dirs.push(tools::workspace_root().join("target").join("debug"));
    dirs.into_iter().map(|d| d.join(name)).collect()
}

fn find(name: &str, var: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{var}={} is not a file", path.display());
        }
        return Ok(path);
    }
    let tried = candidates(name);
    if let Some(found) = tried.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "no `{name}` binary (looked at {}); build it with `cargo build -p tidemark-operator \
         -p tidemark-runner` (`cargo test --workspace` does), or set {var}",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}
