//! Facts about the images `scripts/build-images` builds from docker/*.Dockerfile: size,
//! user, no shell in the operator image, OCI labels, no HEALTHCHECK, and the binaries'
//! versions equal to the chart's appVersion. Needs the images (`scripts/build-images`;
//! `scripts/test` builds them before `cargo test`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use serde_json::Value;
use tidemark_testkit::images::{
    self, OPERATOR_IMAGE, POSTGRES_IMAGE, RUNNER_IMAGE, chart_app_version, inspect, podman_output,
};
use tidemark_testkit::tools::workspace_root;

const MB: u64 = 1_000_000;

fn config(image: &Value) -> &Value {
    &image["Config"]
}

fn size(image: &Value) -> u64 {
    image["Size"].as_u64().expect("Size")
}

fn label<'a>(image: &'a Value, name: &str) -> &'a str {
    config(image)["Labels"][name].as_str().unwrap_or_default()
}

/// `podman run --rm [--entrypoint E] IMAGE ARGS...` as 65532 on a read-only root.
fn run(image: &str, entrypoint: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut argv = vec![
        "run",
        "--rm",
        "--pull=never",
        "--network=none",
        "--read-only",
        "--read-only-tmpfs=false",
        "--cap-drop",
        "ALL",
    ];
    if let Some(e) = entrypoint {
        argv.extend(["--entrypoint", e]);
    }
    argv.push(image);
    argv.extend(args);
    let out = podman_output(&argv).unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn common_facts(name: &str, image: &Value) {
    let version = chart_app_version().unwrap();
    assert_eq!(
        config(image)["User"].as_str(),
        Some("65532:65532"),
        "{name}"
    );
    assert!(
        config(image)["Healthcheck"].is_null(),
        "{name} has a HEALTHCHECK: {}",
        config(image)["Healthcheck"]
    );
    assert_eq!(
        label(image, "org.opencontainers.image.source"),
        "https://github.com/tidemark-dev/tidemark",
        "{name}"
    );
    assert_eq!(
        label(image, "org.opencontainers.image.version"),
        version,
        "{name}"
    );
    let revision = label(image, "org.opencontainers.image.revision");
    assert!(
        revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "{name}: revision label {revision:?} is not a commit id"
    );
}

#[test]
fn the_dockerfiles_have_no_healthcheck() {
    for file in ["operator.Dockerfile", "runner.Dockerfile"] {
        let text = std::fs::read_to_string(workspace_root().join("docker").join(file)).unwrap();
        assert!(
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("HEALTHCHECK")),
            "{file}"
        );
    }
}

#[test]
fn the_operator_image_is_small_nonroot_shell_free_labelled_and_versioned() {
    images::require(&[OPERATOR_IMAGE]).unwrap();
    let image = inspect(OPERATOR_IMAGE).unwrap();
    common_facts("operator", &image);
    let bytes = size(&image);
    eprintln!(
        "operator image: {bytes} bytes ({:.1} MB)",
        bytes as f64 / MB as f64
    );
    assert!(bytes < 40 * MB, "operator image {bytes} bytes >= 40 MB");

    // Exactly the binary and the CA bundle: no shell, no other program.
    let created = podman_output(&["create", "--pull=never", OPERATOR_IMAGE]).unwrap();
    assert!(created.status.success(), "{created:?}");
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let exported = podman_output(&["export", &id]).unwrap();
    let _ = podman_output(&["rm", "--force", &id]);
    assert!(exported.status.success());
    let mut files = Vec::new();
    let mut archive = TarFiles::new(&exported.stdout);
    while let Some((path, is_file)) = archive.next_entry() {
        if is_file {
            files.push(path);
        }
    }
    files.retain(|f| !f.starts_with("dev/") && !f.starts_with("proc/") && !f.starts_with("sys/"));
    files.sort();
    assert_eq!(
        files,
        vec![
            "etc/ssl/certs/ca-certificates.crt".to_string(),
            "tidemark-operator".to_string()
        ],
        "the operator image holds more than the binary and the CA bundle"
    );
    let (ok, text) = run(OPERATOR_IMAGE, Some("/bin/sh"), &["-c", "true"]);
    assert!(!ok, "a shell ran in the operator image: {text}");

    let (ok, text) = run(OPERATOR_IMAGE, None, &["--version"]);
    assert!(ok, "{text}");
    assert_eq!(
        text.trim(),
        format!("tidemark-operator {}", chart_app_version().unwrap())
    );
}

#[test]
fn the_runner_image_is_nonroot_labelled_versioned_and_has_the_postgresql_tools() {
    images::require(&[RUNNER_IMAGE, POSTGRES_IMAGE]).unwrap();
    let image = inspect(RUNNER_IMAGE).unwrap();
    common_facts("runner", &image);
    let bytes = size(&image);
    eprintln!(
        "runner image: {bytes} bytes ({:.1} MB); test PostgreSQL image: {:.1} MB",
        bytes as f64 / MB as f64,
        size(&inspect(POSTGRES_IMAGE).unwrap()) as f64 / MB as f64
    );
    let (ok, text) = run(RUNNER_IMAGE, None, &["--version"]);
    assert!(ok, "{text}");
    assert_eq!(
        text.trim(),
        format!("tidemark-runner {}", chart_app_version().unwrap())
    );
    // The runner picks /usr/lib/postgresql/<server major>/bin (TIDEMARK_PG_BIN_ROOT).
    for (major, tool) in [
        ("15", "pg_dump"),
        ("15", "pg_restore"),
        ("15", "psql"),
        ("16", "pg_dump"),
        ("16", "pg_restore"),
        ("16", "psql"),
        ("18", "pg_dump"),
        ("18", "pg_restore"),
        ("18", "psql"),
    ] {
        let path = format!("/usr/lib/postgresql/{major}/bin/{tool}");
        let (ok, text) = run(RUNNER_IMAGE, Some(&path), &["--version"]);
        assert!(ok, "{path}: {text}");
        assert!(
            text.contains(&format!("(PostgreSQL) {major}.")),
            "{path}: {text}"
        );
    }
    assert_eq!(
        config(&image)["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find(|e| e.starts_with("TIDEMARK_PG_BIN_ROOT=")),
        Some("TIDEMARK_PG_BIN_ROOT=/usr/lib/postgresql")
    );
}

/// The regular files of a tar archive (ustar/GNU headers), enough for `podman export`.
struct TarFiles<'a> {
    data: &'a [u8],
    offset: usize,
}

impl<'a> TarFiles<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, offset: 0 }
    }

    /// `(path, is a regular file)` of the next entry.
    fn next_entry(&mut self) -> Option<(String, bool)> {
        let mut long_name: Option<String> = None;
        loop {
            let header = self.data.get(self.offset..self.offset + 512)?;
            if header.iter().all(|b| *b == 0) {
                return None;
            }
            let field = |range: std::ops::Range<usize>| {
                let raw = &header[range];
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            };
            let size = u64::from_str_radix(field(124..136).trim(), 8).unwrap_or(0) as usize;
            let kind = header[156];
            let mut name = field(0..100);
            let prefix = field(345..500);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
            let body = self.offset + 512;
            self.offset = body + size.div_ceil(512) * 512;
            match kind {
                b'L' => {
                    let mut text = String::new();
                    let _ = self.data[body..body + size]
                        .as_ref()
                        .read_to_string(&mut text);
                    long_name = Some(text.trim_end_matches('\0').to_string());
                }
                b'x' | b'g' => {}
                _ => {
                    let path = long_name.take().unwrap_or(name);
                    let path = path
                        .trim_start_matches("./")
                        .trim_start_matches('/')
                        .to_string();
                    return Some((path, kind == b'0' || kind == 0));
                }
            }
        }
    }
}
