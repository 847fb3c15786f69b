//! The stream side of the parallel restore (runs on the stream thread): walks the
//! decoded archive as it arrives and
//! - writes its header and table of contents, then every block that is not table data
//!   (large objects), into a small side archive file that `pg_restore` reads for the
//!   schema before and after the data;
//! - waits, once the TOC is known, until the orchestrator has created the schema in the
//!   side database and opened the loading connections ([`Go`]);
//! - cuts each table's COPY text at row boundaries into batches and hands every batch
//!   to the loading connection with room for it ([`crate::restore::parallel::load`]),
//!   so one large table is loaded by all connections at once.
//!
//! The end-of-data line `\.` of each table is not sent: at the end of a table every
//! connection is told ([`Item::End`]), ends its COPY of it and reports that, so the
//! orchestrator knows which tables are completely in.

use std::io::{BufWriter, Write};
use std::sync::mpsc as std_mpsc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::pg::archive_toc::{OFFSET_NO_DATA, OFFSET_POS_NOT_SET, Toc};
use crate::pg::archive_walk::{ArchiveWalker, Visit, copy_trailer};

/// A batch is cut at the last row end once this many bytes of a table are buffered.
pub const BATCH_BYTES: usize = 128 << 10;
/// Batches queued per connection before the stream waits.
pub const QUEUE_BATCHES: usize = 4;
/// Bytes kept back at a cut: room for the end-of-data trailer to stay whole.
const KEEP_BACK: usize = 16;

/// Rows of one table for a loading connection.
#[derive(Debug)]
pub struct Batch {
    /// Index of the table among the archive's `TABLE DATA` entries.
    pub table: usize,
    /// Whole rows of COPY text.
    pub rows: Bytes,
}

/// What a loading connection receives.
#[derive(Debug)]
pub enum Item {
    Rows(Batch),
    /// The table (its index) has no more rows.
    End(usize),
}

/// The orchestrator's answer once it has the TOC.
pub enum Go {
    /// The schema is in place: load through these connections.
    Load(Vec<mpsc::Sender<Item>>),
    /// Stop: the restore failed before the data.
    Abort,
}

/// The stream thread's half of the handshake.
pub struct Handshake {
    pub toc: oneshot::Sender<Toc>,
    pub go: std_mpsc::Receiver<Go>,
}

/// Walks the archive; see the module documentation.
pub struct Splitter {
    archive: BufWriter<std::fs::File>,
    handshake: Option<Handshake>,
    loaders: Vec<mpsc::Sender<Item>>,
    next: usize,
    /// The current table's buffered text and whether some of it was already sent.
    buf: BytesMut,
    sent: bool,
    /// Why the splitter stopped the walk.
    pub error: Option<Error>,
    /// Whether the TOC was seen.
    pub toc_seen: bool,
}

impl Splitter {
    pub fn new(archive: std::fs::File, handshake: Handshake) -> ArchiveWalker<Self> {
        ArchiveWalker::new(Self {
            archive: BufWriter::with_capacity(256 << 10, archive),
            handshake: Some(handshake),
            loaders: Vec::new(),
            next: 0,
            buf: BytesMut::new(),
            sent: false,
            error: None,
            toc_seen: false,
        })
    }

    /// Flushes the side archive and lets the connections go (they end their COPY).
    pub fn finish(mut self) -> crate::error::Result<()> {
        self.loaders.clear();
        self.archive
            .flush()
            .map_err(|e| Error::stream("writing the side archive file", e))
    }

    fn fail(&mut self, e: Error) -> bool {
        self.error = Some(e);
        self.loaders.clear();
        false
    }

    fn write(&mut self, raw: &[u8]) -> bool {
        match self.archive.write_all(raw) {
            Ok(()) => true,
            Err(e) => self.fail(Error::stream("writing the side archive file", e)),
        }
    }

    /// Hands a batch to the first connection with room (round robin), or waits for the
    /// next one in turn.
    fn send(&mut self, batch: Batch) -> bool {
        let n = self.loaders.len();
        if n == 0 {
            return self.fail(Error::Internal("no loading connection".into()));
        }
        let mut batch = Item::Rows(batch);
        for k in 0..n {
            let i = (self.next + k) % n;
            match self.loaders[i].try_send(batch) {
                Ok(()) => {
                    self.next = (i + 1) % n;
                    return true;
                }
                Err(mpsc::error::TrySendError::Full(b)) => batch = b,
                Err(mpsc::error::TrySendError::Closed(_)) => return self.loader_gone(),
            }
        }
        let i = self.next;
        self.next = (i + 1) % n;
        if self.loaders[i].blocking_send(batch).is_err() {
            return self.loader_gone();
        }
        true
    }

    fn loader_gone(&mut self) -> bool {
        self.fail(Error::Restore {
            tool: "COPY",
            message: "a loading connection stopped".into(),
        })
    }
}

impl Visit for Splitter {
    fn toc(&mut self, toc: &Toc, raw: &[u8]) -> bool {
        self.toc_seen = true;
        if let Some(e) = toc
            .entries
            .iter()
            .find(|e| e.offset_state != OFFSET_POS_NOT_SET && e.offset_state != OFFSET_NO_DATA)
        {
            return self.fail(unsupported(&format!(
                "its TOC records data positions (entry {} {}), which only an archive \
                 written to a file has",
                e.dump_id, e.desc
            )));
        }
        if !self.write(raw) {
            return false;
        }
        if let Err(e) = self.archive.flush() {
            return self.fail(Error::stream("writing the side archive file", e));
        }
        let Some(handshake) = self.handshake.take() else {
            return self.fail(Error::Internal("a second TOC".into()));
        };
        if handshake.toc.send(toc.clone()).is_err() {
            return self.fail(aborted());
        }
        match handshake.go.recv() {
            Ok(Go::Load(loaders)) if !loaders.is_empty() => {
                self.loaders = loaders;
                true
            }
            _ => self.fail(aborted()),
        }
    }

    fn table_data(&mut self, index: usize, data: &[u8]) -> bool {
        self.buf.extend_from_slice(data);
        if self.buf.len() < BATCH_BYTES {
            return true;
        }
        let limit = self.buf.len() - KEEP_BACK;
        let Some(cut) = memchr::memrchr(b'\n', &self.buf[..limit]) else {
            return true; // one long row: keep collecting
        };
        let rows = self.buf.split_to(cut + 1).freeze();
        self.sent = true;
        self.send(Batch { table: index, rows })
    }

    fn table_end(&mut self, index: usize) -> bool {
        if let Some((len, _)) = copy_trailer(&self.buf, !self.sent) {
            self.buf.truncate(self.buf.len() - len);
        }
        let rows = std::mem::take(&mut self.buf).freeze();
        self.sent = false;
        if !rows.is_empty() && !self.send(Batch { table: index, rows }) {
            return false;
        }
        for i in 0..self.loaders.len() {
            if self.loaders[i].blocking_send(Item::End(index)).is_err() {
                return self.loader_gone();
            }
        }
        true
    }

    fn other(&mut self, raw: &[u8]) -> bool {
        self.write(raw)
    }
}

fn aborted() -> Error {
    Error::Internal("the parallel restore stopped before loading the data".into())
}

/// The archive cannot take the parallel path.
pub fn unsupported(why: &str) -> Error {
    Error::config(format!(
        "the parallel restore cannot read this backup's archive: {why}; restore it with \
         parallelism 1 (the single stream)"
    ))
}
