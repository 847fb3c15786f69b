//! The container images `scripts/build-images` builds with podman (no registry), and how
//! tests run them: `podman --runtime runc` with the `containers.conf` the script writes
//! (cgroupfs, no default ulimits) in its cache directory.
//!
//! Tests that need the images fail with a clear message when they are missing: run
//! `scripts/build-images` (`scripts/test` does, before `cargo test`).

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The operator image (a static build in the `image` profile on `scratch`).
pub const OPERATOR_IMAGE: &str = "localhost/tidemark-operator:test";
/// The runner image (`PG_SOURCE=local`: PostgreSQL client tools 15, 16 and 18).
pub const RUNNER_IMAGE: &str = "localhost/tidemark-runner:test";
/// The test PostgreSQL server image (Debian's 15), for the restore test's sidecar.
pub const POSTGRES_IMAGE: &str = "localhost/tidemark-test-postgres:15";

/// `$TIDEMARK_IMAGE_CACHE`, else `$XDG_CACHE_HOME/tidemark/images`, else
/// `~/.cache/tidemark/images` (as in `scripts/build-images`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TIDEMARK_IMAGE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        });
    cache.join("tidemark").join("images")
}

/// The `containers.conf` podman needs here (written by `scripts/build-images`).
pub fn containers_conf() -> PathBuf {
    cache_dir().join("containers.conf")
}

/// `podman --runtime runc` with `CONTAINERS_CONF` set.
pub fn podman() -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc"])
        .env("CONTAINERS_CONF", containers_conf());
    cmd
}

/// Runs podman with `args`; the output whatever the exit status.
pub fn podman_output(args: &[&str]) -> Result<Output> {
    podman()
        .args(args)
        .output()
        .with_context(|| format!("running podman {args:?}"))
}

/// Fails unless every image exists in podman's storage.
pub fn require(images: &[&str]) -> Result<()> {
    if !containers_conf().is_file() {
        bail!(
            "no {} : build the images first with scripts/build-images",
            containers_conf().display()
        );
    }
    for image in images {
        let out = podman_output(&["image", "exists", image])?;
        if !out.status.success() {
            bail!("no image {image}: build the images first with scripts/build-images");
        }
    }
    Ok(())
}

/// `podman image inspect IMAGE`, the first (only) element.
pub fn inspect(image: &str) -> Result<Value> {
    let out = podman_output(&["image", "inspect", image])?;
    if !out.status.success() {
        bail!(
            "podman image inspect {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let all: Value = serde_json::from_slice(&out.stdout).context("podman image inspect output")?;
    all.get(0)
        .cloned()
        .with_context(|| format!("podman image inspect {image}: empty"))
}

/// The chart's `appVersion` (the version both binaries must report).
pub fn chart_app_version() -> Result<String> {
    let path = crate::tools::workspace_root().join("charts/tidemark/Chart.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("appVersion:"))
        .map(|v| v.trim().trim_matches('"').to_string())
        .context("no appVersion in Chart.yaml")
}
