//! Walks a `pg_dump` custom-format archive as it streams past (pure): the header and
//! table of contents ([`crate::pg::archive_toc`]), then the data blocks. A visitor sees
//! the TOC with its raw bytes, each table's COPY text (the chunk payloads, without the
//! archive's framing) and the raw bytes of every other block (large objects), so it can
//! count rows, load tables or copy the rest into an archive of its own.
//!
//! A data block is a type byte and a dump id, then length-prefixed chunks ended by a
//! zero length; a large-objects block is a list of (OID, chunks) ended by OID 0. Any
//! layout the walker does not recognise makes it give up with the reason.

use std::collections::HashMap;

use crate::pg::archive_toc::{
    BLK_BLOBS, BLK_DATA, MAX_TOC_BYTES, Parse, Toc, decode_int, parse_toc,
};

/// What a walker reports to; each method returns whether to go on.
pub trait Visit {
    /// The header and TOC were parsed; `raw` is their bytes.
    fn toc(&mut self, toc: &Toc, raw: &[u8]) -> bool;
    /// COPY text of the `index`-th `TABLE DATA` entry (in TOC order), in pieces.
    fn table_data(&mut self, index: usize, data: &[u8]) -> bool;
    /// The `index`-th table's data block ended.
    fn table_end(&mut self, index: usize) -> bool;
    /// Bytes of a block that is not table data, verbatim (framing included).
    fn other(&mut self, _raw: &[u8]) -> bool {
        true
    }
}

/// A small field of the data section (block header, chunk length, OID).
struct Field {
    bytes: [u8; Field::MAX],
    len: usize,
}

impl Field {
    /// A type byte, a sign byte and 8 magnitude bytes at most.
    const MAX: usize = 10;
}

impl std::ops::Deref for Field {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Whose bytes a chunk holds.
#[derive(Clone, Copy, Debug)]
enum Owner {
    /// A table's COPY data: its index among the `TABLE DATA` entries.
    Table(usize),
    /// Data of a TOC entry that is not a table.
    Other,
    /// One large object of a blobs block.
    Blob,
}

#[derive(Debug)]
enum State {
    /// Collecting the header and TOC.
    Toc,
    /// Expecting a block header (type byte + dump id), or the end of the archive.
    BlockHeader,
    /// Expecting the length of the next chunk (0 ends the data or the blob).
    ChunkLen(Owner),
    /// Inside a chunk with this many bytes left.
    Chunk { owner: Owner, left: usize },
    /// Expecting the next large-object OID of a blobs block (0 ends the block).
    BlobOid,
    /// Given up, or stopped by the visitor.
    Stopped,
}

/// Incremental walker over a custom-format archive stream.
pub struct ArchiveWalker<V> {
    state: State,
    /// Bytes of the header/TOC or of a small field split across reads.
    pending: Vec<u8>,
    int_size: usize,
    /// `TABLE DATA` entries by dump id → their index.
    tables: HashMap<i64, usize>,
    failure: Option<String>,
    pub visitor: V,
}

impl<V: Visit> ArchiveWalker<V> {
    pub fn new(visitor: V) -> Self {
        Self {
            state: State::Toc,
            pending: Vec::new(),
            int_size: 0,
            tables: HashMap::new(),
            failure: None,
            visitor,
        }
    }

    /// Whether the walk ended early (a layout it does not know, or the visitor stopped).
    pub fn stopped(&self) -> bool {
        matches!(self.state, State::Stopped)
    }

    /// Why the walker gave up, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Consumes the next bytes of the archive.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                State::Stopped => return,
                State::Toc => {
                    self.pending.extend_from_slice(data);
                    data = &[];
                    self.try_parse_toc();
                }
                State::Chunk { owner, left } => {
                    let n = left.min(data.len());
                    let go_on = match owner {
                        Owner::Table(i) => self.visitor.table_data(i, &data[..n]),
                        Owner::Other | Owner::Blob => self.visitor.other(&data[..n]),
                    };
                    data = &data[n..];
                    self.state = if n == left {
                        State::ChunkLen(owner)
                    } else {
                        State::Chunk {
                            owner,
                            left: left - n,
                        }
                    };
                    if !go_on {
                        return self.stop(None);
                    }
                }
                State::BlockHeader => {
                    let Some(field) = self.take(&mut data, 2 + self.int_size) else {
                        return;
                    };
                    let id = decode_int(&field[1..]);
                    let (next, raw) = match (field[0], id) {
                        (BLK_DATA, Some(id)) => match self.tables.get(&id) {
                            Some(&i) => (State::ChunkLen(Owner::Table(i)), false),
                            None => (State::ChunkLen(Owner::Other), true),
                        },
                        (BLK_BLOBS, Some(_)) => (State::BlobOid, true),
                        (kind, _) => {
                            return self.stop(Some(format!("unexpected data block type {kind}")));
                        }
                    };
                    self.state = next;
                    if raw && !self.visitor.other(&field) {
                        return self.stop(None);
                    }
                }
                State::ChunkLen(owner) => {
                    let Some(field) = self.take(&mut data, 1 + self.int_size) else {
                        return;
                    };
                    let (next, go_on) = match (decode_int(&field), owner) {
                        (Some(0), Owner::Blob) => (State::BlobOid, self.visitor.other(&field)),
                        (Some(0), Owner::Table(i)) => {
                            (State::BlockHeader, self.visitor.table_end(i))
                        }
                        (Some(0), Owner::Other) => (State::BlockHeader, self.visitor.other(&field)),
                        (Some(len), _) if len > 0 => {
                            let go_on = match owner {
                                Owner::Table(_) => true,
                                Owner::Other | Owner::Blob => self.visitor.other(&field),
                            };
                            let left = usize::try_from(len).unwrap_or(usize::MAX);
                            (State::Chunk { owner, left }, go_on)
                        }
                        _ => return self.stop(Some("negative chunk length".into())),
                    };
                    self.state = next;
                    if !go_on {
                        return self.stop(None);
                    }
                }
                State::BlobOid => {
                    let Some(field) = self.take(&mut data, 1 + self.int_size) else {
                        return;
                    };
                    self.state = match decode_int(&field) {
                        Some(0) => State::BlockHeader,
                        Some(_) => State::ChunkLen(Owner::Blob),
                        None => return self.stop(Some("bad large-object OID".into())),
                    };
                    if !self.visitor.other(&field) {
                        return self.stop(None);
                    }
                }
            }
        }
    }

    /// The visitor, and whether the whole archive was understood and ended on a block
    /// boundary (otherwise why not).
    pub fn finish(self) -> (V, Result<(), String>) {
        let verdict = if let Some(why) = self.failure {
            Err(why)
        } else {
            match self.state {
                State::BlockHeader if self.pending.is_empty() => Ok(()),
                State::Toc => Err("the archive ended inside its table of contents".into()),
                State::Stopped => Err("the walk was stopped".into()),
                _ => Err("the archive ended inside a data block".into()),
            }
        };
        (self.visitor, verdict)
    }

    fn stop(&mut self, why: Option<String>) {
        if why.is_some() {
            self.failure = why;
        }
        self.state = State::Stopped;
        self.pending = Vec::new();
        self.tables.clear();
    }

    /// Returns exactly `need` (at most [`Field::MAX`]) bytes, from `pending` plus the
    /// head of `data`, or stashes what there is and returns `None`. No allocation: this
    /// runs once per chunk, that is once per row of a table.
    fn take(&mut self, data: &mut &[u8], need: usize) -> Option<Field> {
        let missing = need - self.pending.len();
        if data.len() < missing {
            self.pending.extend_from_slice(data);
            *data = &[];
            return None;
        }
        let mut field = Field {
            bytes: [0; Field::MAX],
            len: need,
        };
        let have = self.pending.len();
        field.bytes[..have].copy_from_slice(&self.pending);
        field.bytes[have..need].copy_from_slice(&data[..missing]);
        self.pending.clear();
        *data = &data[missing..];
        Some(field)
    }

    fn try_parse_toc(&mut self) {
        match parse_toc(&self.pending) {
            Ok(toc) => {
                self.int_size = toc.int_size;
                for (i, e) in toc.table_data().enumerate() {
                    self.tables.insert(e.dump_id, i);
                }
                let rest = self.pending.split_off(toc.len);
                let raw = std::mem::take(&mut self.pending);
                self.state = State::BlockHeader;
                if !self.visitor.toc(&toc, &raw) {
                    return self.stop(None);
                }
                self.feed(&rest);
            }
            Err(Parse::Incomplete) if self.pending.len() <= MAX_TOC_BYTES => {}
            Err(Parse::Incomplete) => self.stop(Some("table of contents too large".into())),
            Err(Parse::Unsupported(why)) => self.stop(Some(why)),
        }
    }
}

/// The end-of-data trailer at the end of a table's COPY text: the line `\.` followed by
/// one or more newlines. `tail` holds the last bytes of the text and `whole` says that it
/// is all of it. Returns the trailer's length in bytes and its newlines, or `None`. A
/// data row can never be the line `\.` (a backslash in a value is written `\\`).
pub fn copy_trailer(tail: &[u8], whole: bool) -> Option<(usize, usize)> {
    let newlines = tail.iter().rev().take_while(|c| **c == b'\n').count();
    let body = &tail[..tail.len() - newlines];
    let before = body.strip_suffix(b"\\.")?;
    let at_line_start = match before.last() {
        Some(c) => *c == b'\n',
        None => whole,
    };
    (at_line_start && newlines > 0).then_some((newlines + 2, newlines))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pg::archive_toc::testing::archive;

    /// Records everything the walker reports.
    #[derive(Default)]
    struct Record {
        toc_len: usize,
        tables: Vec<String>,
        data: Vec<Vec<u8>>,
        ended: Vec<usize>,
        other: Vec<u8>,
    }

    impl Visit for Record {
        fn toc(&mut self, toc: &Toc, raw: &[u8]) -> bool {
            self.toc_len = raw.len();
            self.tables = toc.table_data().map(|e| e.table_name()).collect();
            self.data = vec![Vec::new(); self.tables.len()];
            true
        }
        fn table_data(&mut self, index: usize, data: &[u8]) -> bool {
            self.data[index].extend_from_slice(data);
            true
        }
        fn table_end(&mut self, index: usize) -> bool {
            self.ended.push(index);
            true
        }
        fn other(&mut self, raw: &[u8]) -> bool {
            self.other.extend_from_slice(raw);
            true
        }
    }

    #[test]
    fn splits_tables_from_the_rest_whatever_the_read_sizes() {
        let (bytes, toc_len) = archive();
        for step in [1, 2, 3, 7, 64, bytes.len()] {
            let mut w = ArchiveWalker::new(Record::default());
            for chunk in bytes.chunks(step) {
                w.feed(chunk);
            }
            let (r, verdict) = w.finish();
            verdict.unwrap();
            assert_eq!(r.toc_len, toc_len, "step {step}");
            assert_eq!(
                r.tables,
                ["public.blank_rows", "public.orders", "sales.empty"]
            );
            assert_eq!(r.data[1], b"1\ta\\nb\n2\tc\n3\td\n\\.\n\n\n", "step {step}");
            assert_eq!(r.data[2], b"\\.\n\n\n");
            assert_eq!(r.ended, [1, 2, 0]);
            // The large-objects block, verbatim: everything after the third table block.
            let blobs_at = bytes.len() - r.other.len();
            assert_eq!(bytes[blobs_at], BLK_BLOBS);
            assert_eq!(&bytes[blobs_at..], &r.other[..]);
        }
    }

    #[test]
    fn a_truncated_archive_is_reported() {
        let (bytes, _) = archive();
        for cut in [10, 200, bytes.len() - 1] {
            let mut w = ArchiveWalker::new(Record::default());
            w.feed(&bytes[..cut]);
            assert!(w.finish().1.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn the_trailer_is_recognised_only_at_a_line_start() {
        assert_eq!(copy_trailer(b"1\n\\.\n\n", false), Some((4, 2)));
        assert_eq!(copy_trailer(b"\\.\n", true), Some((3, 1)));
        assert_eq!(copy_trailer(b"\\.\n", false), None);
        assert_eq!(copy_trailer(b"a\\.\n", false), None);
        assert_eq!(copy_trailer(b"1\n\\.", false), None);
    }
}
