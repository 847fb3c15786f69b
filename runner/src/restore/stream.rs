//! The restore's stream thread: downloaded chunks → SHA-256 (of the stored bytes, as
//! they arrive) → age decryption → decompression → the tool's stdin, on one dedicated
//! OS thread with 1 MiB buffers. After the decoders end, the rest of the object (if
//! any) is read and hashed too, so the hash always covers the whole object.
//!
//! The thread reports what it hashed and then, on the direct route, waits for the
//! orchestrator's verdict before releasing the gate (see [`crate::restore::gate`]).

use std::io::{self, BufReader, Read};
use std::sync::mpsc as std_mpsc;

use sha2::{Digest, Sha256};
use tidemark_crd::contract::manifest::CompressionTag;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::pg::archive_walk::ArchiveWalker;
use crate::pg::child::GatedStdin;
use crate::restore::gate::{Gate, HOLD_BYTES};
use crate::restore::parallel::split::{self, Splitter};
use crate::restore::plain_tx::TxFilter;
use crate::s3::download::Chunk;

/// Decoder and tool buffer size.
const BLOCK: usize = 1 << 20;

/// What went through the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hashed {
    /// Bytes of the stored object received.
    pub stored_bytes: u64,
    /// Lower-case hex SHA-256 of them.
    pub sha256: String,
    /// Decompressed bytes handed to the tool (or discarded after it stopped reading).
    pub raw_bytes: u64,
}

/// The orchestrator's decision about the held-back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Release,
    Abort,
}

/// How the stored bytes are decoded.
pub struct Decoding {
    pub compression: CompressionTag,
    /// Identities when the object is encrypted (empty: not encrypted).
    pub identities: Vec<age::x25519::Identity>,
}

/// Where the decoded stream goes.
pub enum Output {
    /// The tool that owns the transaction: gated, released on the verdict.
    Gated {
        stdin: GatedStdin,
        verdict: std_mpsc::Receiver<Verdict>,
        /// A plain dump for psql: pg_dump's own transaction control is neutralised
        /// ([`TxFilter`]) so the restore stays one transaction.
        plain: bool,
    },
    /// `pg_restore -f -` turning the archive into SQL: it may stop reading early
    /// (its selection is complete); the rest is then only hashed.
    Feed(GatedStdin),
    /// The parallel path: table rows to the loading connections, the rest into the
    /// side archive file (into the side database only: the swap waits for the hash).
    Split(Box<ArchiveWalker<Splitter>>),
}

/// What the stream thread reports once the whole object went through (or it stopped).
#[derive(Debug)]
pub struct StreamReport {
    pub hashed: Hashed,
    /// Whether every byte of the object was received (the hash is comparable).
    pub complete: bool,
    /// Why decoding or feeding stopped, if it did.
    pub error: Option<Error>,
}

/// A running stream thread.
pub struct StreamThread {
    /// The hash report (sent before any verdict is awaited).
    pub report: oneshot::Receiver<StreamReport>,
    /// Ends when the thread released or dropped its output.
    pub done: oneshot::Receiver<std::result::Result<(), String>>,
}

/// Starts the stream thread.
pub fn spawn(
    chunks: mpsc::Receiver<Chunk>,
    decoding: Decoding,
    output: Output,
) -> Result<StreamThread> {
    let (report_tx, report) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    std::thread::Builder::new()
        .name("restore-stream".into())
        .spawn(move || {
            let result = run(chunks, &decoding, output, report_tx);
            let _ = done_tx.send(result);
        })
        .map_err(|e| Error::Internal(format!("cannot start the stream thread: {e}")))?;
    Ok(StreamThread { report, done })
}

/// Reads the downloaded chunks, hashing every stored byte as it arrives.
pub struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    current: bytes::Bytes,
    hasher: Sha256,
    bytes: u64,
    ended: bool,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        Self {
            rx,
            current: bytes::Bytes::new(),
            hasher: Sha256::new(),
            bytes: 0,
            ended: false,
        }
    }

    fn next_chunk(&mut self) -> io::Result<bool> {
        match self.rx.blocking_recv() {
            Some(Chunk::Data(b)) => {
                self.hasher.update(&b);
                self.bytes += b.len() as u64;
                self.current = b;
                Ok(true)
            }
            Some(Chunk::End) => {
                self.ended = true;
                Ok(false)
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the download stopped before the end of the object",
            )),
        }
    }

    /// Receives (and hashes) the rest of the object.
    pub fn drain(&mut self) -> io::Result<()> {
        self.current = bytes::Bytes::new();
        while !self.ended {
            self.next_chunk()?;
        }
        Ok(())
    }

    /// Size and SHA-256 of everything received.
    pub fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(self.hasher.finalize()))
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended || !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

/// Why decoding stopped early.
enum Stop {
    /// The decoders failed (corruption, wrong key): the rest is drained and hashed so
    /// the report can say whether the object differs from its manifest.
    Decode(Error),
    /// The tool stopped reading or the download broke: no point in draining.
    Fatal(Error),
}

fn run(
    chunks: mpsc::Receiver<Chunk>,
    decoding: &Decoding,
    output: Output,
    report_tx: oneshot::Sender<StreamReport>,
) -> std::result::Result<(), String> {
    let mut reader = ChannelReader::new(chunks);
    let (output, split) = match output {
        Output::Split(w) => (None, Some(w)),
        other => (Some(other), None),
    };
    let (gate, verdict, feed) = match output {
        None => (None, None, None),
        Some(output) => match output {
            Output::Gated {
                stdin,
                verdict,
                plain,
            } => (
                Some(Gate::new(stdin, HOLD_BYTES)),
                Some((verdict, plain)),
                None,
            ),
            Output::Feed(stdin) => (None, None, Some(stdin)),
            Output::Split(_) => (None, None, None),
        },
    };
    let (verdict, plain) = match verdict {
        Some((v, p)) => (Some(v), p),
        None => (None, false),
    };
    let mut sink = Sink {
        gate,
        feed,
        split,
        raw: 0,
        filter: plain.then(TxFilter::default),
    };
    let decoded = decode(&mut reader, decoding, &mut sink)
        .and_then(|()| sink.finish_filter())
        .and_then(|()| sink.finish_split());
    let raw_bytes = sink.raw;
    let (complete, error) = match decoded {
        Ok(()) => match reader.drain() {
            Ok(()) => (true, None),
            Err(e) => (false, Some(Error::stream("downloading the object", e))),
        },
        Err(stop) => {
            // Kill the tools before anything closes (the gate's stdin does it on drop),
            // then learn whether the object differs from its manifest.
            drop(sink.gate.take());
            drop(sink.feed.take());
            drop(sink.split.take());
            match stop {
                Stop::Decode(e) => match reader.drain() {
                    Ok(()) => (true, Some(e)),
                    Err(_) => (false, Some(e)),
                },
                Stop::Fatal(e) => (false, Some(e)),
            }
        }
    };
    let (stored_bytes, sha256) = reader.finish();
    let failed = error.is_some();
    let _ = report_tx.send(StreamReport {
        hashed: Hashed {
            stored_bytes,
            sha256,
            raw_bytes,
        },
        complete,
        error,
    });
    if failed {
        return Err("stream failed".into());
    }
    if let Some(stdin) = sink.feed.take() {
        // pg_restore -f - may see the end of its input: it cannot commit anything.
        let _ = stdin.release();
    }
    let Some(gate) = sink.gate.take() else {
        return Ok(());
    };
    match verdict.map(|v| v.recv()) {
        Some(Ok(Verdict::Release)) => {
            let stdin = gate.release().map_err(|e| e.to_string())?;
            stdin.release().map_err(|e| e.to_string())
        }
        // Abort, or the orchestrator is gone: the gate's drop kills the tool.
        _ => {
            drop(gate);
            Err("aborted".into())
        }
    }
}

/// The decoded stream's destination.
struct Sink {
    gate: Option<Gate<GatedStdin>>,
    feed: Option<GatedStdin>,
    split: Option<Box<ArchiveWalker<Splitter>>>,
    raw: u64,
    filter: Option<TxFilter>,
}

impl Sink {
    /// Writes what the filter still holds (the last line) into the gate.
    fn finish_filter(&mut self) -> std::result::Result<(), Stop> {
        let Some(mut filter) = self.filter.take() else {
            return Ok(());
        };
        let mut out = Vec::new();
        filter.finish(&mut out);
        if filter.neutralised > 0 {
            tracing::info!(
                lines = filter.neutralised,
                "pg_dump's own BEGIN/COMMIT (large objects) neutralised: one transaction"
            );
        }
        if let Some(gate) = self.gate.as_mut() {
            gate.push(out).map_err(|e| {
                Stop::Fatal(Error::Restore {
                    tool: "psql",
                    message: format!("the restoring tool stopped reading its input: {e}"),
                })
            })?;
        }
        Ok(())
    }

    /// The end of the archive for the parallel path: it must end on a block boundary;
    /// the side archive is flushed and the loading connections are let go.
    fn finish_split(&mut self) -> std::result::Result<(), Stop> {
        let Some(walker) = self.split.take() else {
            return Ok(());
        };
        let (splitter, verdict) = (*walker).finish();
        verdict.map_err(|why| {
            Stop::Decode(Error::Check {
                reason: "CorruptBackup",
                message: format!("the backup's archive is incomplete: {why}"),
            })
        })?;
        splitter.finish().map_err(Stop::Fatal)
    }

    /// Passes on one buffer; returns a buffer to reuse.
    fn push(&mut self, block: Vec<u8>) -> std::result::Result<Option<Vec<u8>>, Stop> {
        self.raw += block.len() as u64;
        let block = match self.filter.as_mut() {
            Some(filter) => {
                let mut out = Vec::with_capacity(block.len() + 256);
                filter.feed(&block, &mut out);
                out
            }
            None => block,
        };
        if let Some(gate) = self.gate.as_mut() {
            return gate.push(block).map_err(|e| {
                Stop::Fatal(Error::Restore {
                    tool: "restore",
                    message: format!("the restoring tool stopped reading its input: {e}"),
                })
            });
        }
        if let Some(walker) = self.split.as_mut() {
            walker.feed(&block);
            if walker.stopped() {
                return Err(split_stopped(walker));
            }
        }
        if let Some(feed) = self.feed.as_mut() {
            match std::io::Write::write_all(feed, &block) {
                Ok(()) => {}
                // pg_restore -f - has everything it selected and exited; the rest is
                // only hashed. Whether it succeeded is checked by the orchestrator.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    if let Some(stdin) = self.feed.take() {
                        let _ = stdin.release();
                    }
                }
                Err(e) => {
                    return Err(Stop::Fatal(Error::Restore {
                        tool: "pg_restore",
                        message: format!("writing its input: {e}"),
                    }));
                }
            }
        }
        let mut block = block;
        block.clear();
        Ok(Some(block))
    }
}

fn decode(
    reader: &mut ChannelReader,
    d: &Decoding,
    sink: &mut Sink,
) -> std::result::Result<(), Stop> {
    let buffered = BufReader::with_capacity(256 << 10, reader);
    let decrypted: Box<dyn Read + '_> = if d.identities.is_empty() {
        Box::new(buffered)
    } else {
        let decryptor = age::Decryptor::new_buffered(buffered).map_err(decrypt_error)?;
        let identities = d.identities.iter().map(|i| i as &dyn age::Identity);
        Box::new(decryptor.decrypt(identities).map_err(decrypt_error)?)
    };
    let mut decompressed: Box<dyn Read + '_> = match d.compression {
        CompressionTag::Zstd => Box::new(
            zstd::stream::read::Decoder::new(decrypted)
                .map_err(|e| Stop::Fatal(Error::Internal(format!("zstd decoder: {e}"))))?,
        ),
        CompressionTag::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(256 << 10, decrypted),
        )),
        CompressionTag::None => decrypted,
    };
    let mut block = vec![0u8; BLOCK];
    loop {
        let mut filled = 0;
        // Fill the buffer (decoders return small pieces) so the tool gets big writes.
        while filled < BLOCK {
            match decompressed.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_read_error(e, d)),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        block.truncate(filled);
        let next = sink.push(block)?;
        block = next.unwrap_or_default();
        block.resize(BLOCK, 0);
    }
}

/// Why the parallel path's walk stopped: the splitter's own reason (a loading
/// connection stopped, the orchestrator aborted), an archive it cannot read, or data
/// that does not follow the archive's layout (the hash will tell whether it is damaged).
fn split_stopped(walker: &mut ArchiveWalker<Splitter>) -> Stop {
    if let Some(e) = walker.visitor.error.take() {
        return Stop::Fatal(e);
    }
    let why = walker.failure().unwrap_or("the walk stopped").to_string();
    if walker.visitor.toc_seen {
        Stop::Decode(Error::Check {
            reason: "CorruptBackup",
            message: format!("the backup's archive cannot be read: {why}"),
        })
    } else {
        Stop::Fatal(split::unsupported(&why))
    }
}

/// An error of the age header: a key that does not fit is configuration; anything
/// else means the object is damaged (the hash will tell).
fn decrypt_error(e: age::DecryptError) -> Stop {
    match e {
        age::DecryptError::NoMatchingKeys => Stop::Fatal(Error::config(
            "TIDEMARK_AGE_IDENTITY does not match any recipient the backup is encrypted to \
             (value not shown); set the identity whose public key is listed in the manifest",
        )),
        age::DecryptError::Io(e) => Stop::Fatal(Error::stream("reading the age header", e)),
        other => Stop::Decode(Error::Check {
            reason: "DecryptFailed",
            message: format!("the age header of the backup cannot be read: {other}"),
        }),
    }
}

fn classify_read_error(e: io::Error, d: &Decoding) -> Stop {
    if e.kind() == io::ErrorKind::UnexpectedEof && e.to_string().contains("download stopped") {
        return Stop::Fatal(Error::stream("downloading the object", e));
    }
    let stage = match (d.identities.is_empty(), d.compression) {
        (false, CompressionTag::None) => "decrypting",
        (true, c) => match c {
            CompressionTag::None => "reading",
            _ => "decompressing",
        },
        (false, _) => "decrypting or decompressing",
    };
    Stop::Decode(Error::Check {
        reason: "CorruptBackup",
        message: format!("{stage} the backup failed: {e}"),
    })
}
