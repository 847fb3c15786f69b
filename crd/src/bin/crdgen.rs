//! Writes (or with `--check`, compares) the generated CRD YAML files.
//!
//! Usage: `crdgen [--check] [DIR]` (DIR defaults to `charts/tidemark/files/crds`).

use std::path::PathBuf;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let mut check = false;
    let mut dir = PathBuf::from("charts/tidemark/files/crds");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: crdgen [--check] [DIR]");
                return Ok(());
            }
            other => dir = PathBuf::from(other),
        }
    }
    let mut drift = Vec::new();
    for (file, crd) in tidemark_crd::crdgen::crds() {
        let path = dir.join(file);
        let rendered =
            tidemark_crd::crdgen::render(&crd).with_context(|| format!("rendering {file}"))?;
        if check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != rendered {
                drift.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(&path, rendered)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if !drift.is_empty() {
        bail!(
            "generated CRDs differ from the committed files: {}; run `cargo run -p tidemark-crd --bin crdgen` and commit",
            drift.join(", ")
        );
    }
    Ok(())
}
