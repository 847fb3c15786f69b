//! The side archive file of the parallel restore: the archive's header and table of
//! contents plus every block that is not table data (large objects), which `pg_restore`
//! reads for the schema before and after the data. Small (the TOC, plus the large
//! objects' size); removed when dropped, whatever happened.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file on local disk; removed on drop.
#[derive(Debug)]
pub struct SideArchive {
    pub path: PathBuf,
}

impl SideArchive {
    /// Creates a new, empty file in `dir`.
    pub fn create(dir: &Path) -> Result<(Self, std::fs::File)> {
        let path = dir.join(format!("tidemark-restore-{}.toc", crate::restore::token()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::stream("creating the side archive file", e))?;
        Ok((Self { path }, file))
    }
}

impl Drop for SideArchive {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e,
                "removing the side archive file failed");
        }
    }
}
