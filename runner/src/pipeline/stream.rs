//! The stream thread: reads `pg_dump`'s stdout in large blocks and pushes it through
//! compression → encryption → hash/part-cutting on one dedicated OS thread, so the
//! async runtime only does network I/O.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::pg::archive_rows::ArchiveRowCounter;
use crate::pipeline::sink::{PartSink, Stored};
use crate::pipeline::stages::{Compress, CompressionSpec, Encrypt};

/// Read block size.
const READ_BLOCK: usize = 1 << 20;

/// What went through the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTotals {
    /// Bytes read from `pg_dump`.
    pub raw_bytes: u64,
    pub stored: Stored,
    /// Rows per table counted from the archive, when counting was asked for: the counts,
    /// or why the archive could not be read.
    pub row_counts: Option<Result<BTreeMap<String, i64>, String>>,
}

/// A running stream thread; its result arrives on a oneshot channel.
pub struct StreamHandle {
    pub done: oneshot::Receiver<Result<StreamTotals>>,
    pub thread: JoinHandle<()>,
}

/// Starts the stream thread over `input`; with `counter`, rows are counted on the way.
pub fn spawn<R: Read + Send + 'static>(
    input: R,
    compression: CompressionSpec,
    recipients: Vec<age::x25519::Recipient>,
    sink: PartSink,
    counter: Option<ArchiveRowCounter>,
) -> Result<StreamHandle> {
    let (tx, done) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("backup-stream".into())
        .spawn(move || {
            let result = run(input, &compression, &recipients, sink, counter);
            let _ = tx.send(result);
        })
        .map_err(|e| Error::Internal(format!("cannot start the stream thread: {e}")))?;
    Ok(StreamHandle { done, thread })
}

/// Pumps `input` to the end through the stages; synchronous.
pub fn run<R: Read>(
    mut input: R,
    compression: &CompressionSpec,
    recipients: &[age::x25519::Recipient],
    sink: PartSink,
    mut counter: Option<ArchiveRowCounter>,
) -> Result<StreamTotals> {
    let encrypt =
        Encrypt::new(sink, recipients).map_err(|e| Error::stream("starting encryption", e))?;
    let mut compress = Compress::new(encrypt, compression)
        .map_err(|e| Error::stream("starting compression", e))?;
    let mut block = vec![0u8; READ_BLOCK];
    let mut raw_bytes = 0u64;
    loop {
        let n = match input.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::stream("reading pg_dump output", e)),
        };
        raw_bytes += n as u64;
        if let Some(counter) = counter.as_mut() {
            counter.feed(&block[..n]);
        }
        compress
            .write_all(&block[..n])
            .map_err(|e| Error::stream("compressing, encrypting and buffering", e))?;
    }
    drop(block);
    let encrypt = compress
        .finish()
        .map_err(|e| Error::stream("finishing compression", e))?;
    let sink = encrypt
        .finish()
        .map_err(|e| Error::stream("finishing encryption", e))?;
    let stored = sink
        .finish()
        .map_err(|e| Error::stream("sending the last part", e))?;
    Ok(StreamTotals {
        raw_bytes,
        stored,
        row_counts: counter.map(ArchiveRowCounter::finish),
    })
}
