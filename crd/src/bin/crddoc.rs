//! Writes (or with `--check`, compares) `docs/reference.md`, the reference of both
//! resources generated from the CRDs.
//!
//! Usage: `crddoc [--check] [FILE]` (FILE defaults to `docs/reference.md`).

use std::path::PathBuf;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let mut check = false;
    let mut path = PathBuf::from("docs/reference.md");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: crddoc [--check] [FILE]");
                return Ok(());
            }
            other => path = PathBuf::from(other),
        }
    }
    let crds: Vec<_> = tidemark_crd::crdgen::crds()
        .into_iter()
        .map(|(_, crd)| crd)
        .collect();
    let rendered = tidemark_crd::crddoc::render(&crds).context("rendering the API reference")?;
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != rendered {
            bail!(
                "{} differs from the CRDs; run `cargo run -p tidemark-crd --bin crddoc` and commit",
                path.display()
            );
        }
    } else {
        std::fs::write(&path, rendered).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
