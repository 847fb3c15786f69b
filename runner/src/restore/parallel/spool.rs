//! Download → SHA-256 → decryption → decompression → a local spool file: the verified,
//! decoded custom-format archive `pg_restore -j` reads (it needs a seekable file). The
//! file is removed when its [`Spool`] is dropped, whatever happened.

use std::path::{Path, PathBuf};

use tidemark_crd::contract::manifest::Manifest;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::restore::compare::check_object;
use crate::restore::stream::{self, Decoding, Hashed, Output};
use crate::s3::download::{CHANNEL_CHUNKS, Download};
use crate::s3::store::Store;
use crate::signals::Shutdown;
use tidemark_crd::contract::result::ErrorKind;

/// The verified archive on local disk; removed on drop.
#[derive(Debug)]
pub struct Spool {
    pub path: PathBuf,
    pub hashed: Hashed,
}

impl Drop for Spool {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "removing the spool file failed");
    }
}

/// Removes the file on drop unless disarmed (the spool takes over).
struct Guard(Option<PathBuf>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            remove(&p);
        }
    }
}

/// Downloads and decodes the backup into `dir`; returns only once the stored bytes'
/// size and SHA-256 equal the manifest's.
pub async fn fill(
    store: &Store,
    manifest: &Manifest,
    decoding: Decoding,
    dir: &Path,
    shutdown: &Shutdown,
) -> Result<Spool> {
    let mut stop = shutdown.clone();
    let download = tokio::select! {
        d = Download::open(store, &manifest.key) => d?,
        sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
    };
    if download.size != manifest.stored_size {
        return Err(Error::Check {
            reason: "SizeMismatch",
            message: format!(
                "backup {} has {} bytes, its manifest says {}; nothing was restored",
                manifest.key, download.size, manifest.stored_size
            ),
        });
    }
    let path = dir.join(format!("tidemark-restore-{}.dump", crate::restore::token()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::stream("creating the local spool file", e))?;
    let mut guard = Guard(Some(path.clone()));
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let thread = stream::spawn(rx, decoding, Output::File(file))?;
    let mut pump = tokio::spawn(download.pump(tx));
    tracing::info!(key = %manifest.key, spool = %path.display(), "downloading into the spool file");
    let report = tokio::select! {
        r = thread.report => r.map_err(|_| Error::Internal("the stream thread vanished".into()))?,
        sig = stop.wait() => {
            pump.abort();
            return Err(Error::RestoreInterrupted(sig));
        }
    };
    if !report.complete {
        let error = report
            .error
            .unwrap_or_else(|| Error::Internal("the stream stopped without a reason".into()));
        // A configuration or integrity problem found by the decoders is the cause; the
        // download's own error explains only a stream that stopped receiving.
        if error.kind() == ErrorKind::Runtime
            && matches!(
                error,
                Error::Stream {
                    context: "downloading the object",
                    ..
                }
            )
            && let Ok(Ok(Err(e))) =
                tokio::time::timeout(std::time::Duration::from_millis(500), &mut pump).await
        {
            return Err(e);
        }
        return Err(error);
    }
    check_object(manifest, &report.hashed)?;
    if let Some(e) = report.error {
        return Err(e);
    }
    let _ = thread.done.await;
    tracing::info!(sha256 = %report.hashed.sha256, raw = report.hashed.raw_bytes,
        "SHA-256 matches the manifest; the spool file is complete");
    guard.0 = None;
    Ok(Spool {
        path,
        hashed: report.hashed,
    })
}
