//! Counts the rows of every table in a `pg_dump` custom-format archive while it streams
//! past, so the manifest's counts are exactly what the dump holds without a second scan
//! of the database (`count(*)` per table competes with `pg_dump` for the server).
//!
//! The custom format written to a pipe is: a header, the table of contents (TOC), then
//! one data block per TOC entry with data, in dump order. A `TABLE DATA` block carries
//! the table's `COPY … TO STDOUT` text in length-prefixed chunks (uncompressed, since the
//! runner asks for `--compress=0`); in COPY text format every row ends with exactly one
//! newline byte (newlines inside values are escaped as `\n`), so rows = newline bytes —
//! minus pg_dump's end-of-data trailer: a line `\.` and blank lines after it. A data
//! row can never be the line `\.` (a backslash in a value is written `\\`), so the
//! trailer is recognised from the last bytes of the block alone.
//!
//! The reader is deliberately strict: any layout it does not recognise (an archive
//! version it does not know, compressed data, a block that does not match the TOC)
//! makes it give up, and the caller counts with `count(*)` inside the snapshot instead.
//! Giving up never disturbs the stream itself.

use std::collections::{BTreeMap, HashMap};

/// Archive format versions this reader understands (major, minor): PostgreSQL 12 to 18
/// write 1.14 to 1.16.
const MIN_VERSION: (u8, u8) = (1, 14);
const MAX_VERSION: (u8, u8) = (1, 16);
/// Archive format byte of the custom format.
const FORMAT_CUSTOM: u8 = 1;
/// Block types of the custom format.
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;
/// The header and TOC are buffered until parsed; beyond this the reader gives up.
const MAX_TOC_BYTES: usize = 256 << 20;

/// Incremental row counter over a custom-format archive stream.
#[derive(Debug)]
pub struct ArchiveRowCounter {
    state: State,
    /// Bytes of the header/TOC or of a small field split across reads.
    pending: Vec<u8>,
    layout: Layout,
    /// Table data entries by dump id: `schema.table` → index into `counts`.
    tables: HashMap<i64, usize>,
    counts: Vec<(String, i64)>,
    /// The last bytes of the current table's data, to recognise the trailer.
    tail: Tail,
    failure: Option<String>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Layout {
    int_size: usize,
}

/// Whose bytes a chunk holds.
#[derive(Clone, Copy, Debug)]
enum Owner {
    /// A table's COPY data: index into the counts.
    Table(usize),
    /// Data of a TOC entry that is not a table (nothing to count).
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
    Chunk {
        owner: Owner,
        left: usize,
    },
    /// Expecting the next large-object OID of a blobs block (0 ends the block).
    BlobOid,
    Failed,
}

impl Default for ArchiveRowCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl ArchiveRowCounter {
    pub fn new() -> Self {
        Self {
            state: State::Toc,
            pending: Vec::new(),
            layout: Layout::default(),
            tables: HashMap::new(),
            counts: Vec::new(),
            tail: Tail::default(),
            failure: None,
        }
    }

    /// Consumes the next bytes of the archive.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                State::Failed => return,
                State::Toc => {
                    self.pending.extend_from_slice(data);
                    data = &[];
                    self.try_parse_toc();
                }
                State::Chunk { owner, left } => {
                    let n = left.min(data.len());
                    if let Owner::Table(i) = owner {
                        let rows = memchr::memchr_iter(b'\n', &data[..n]).count();
                        self.counts[i].1 += rows as i64;
                        self.tail.push(&data[..n]);
                    }
                    data = &data[n..];
                    self.state = if n == left {
                        State::ChunkLen(owner)
                    } else {
                        State::Chunk {
                            owner,
                            left: left - n,
                        }
                    };
                }
                State::BlockHeader => {
                    let need = 1 + 1 + self.layout.int_size;
                    let Some(field) = self.take(&mut data, need) else {
                        return;
                    };
                    let id = decode_int(&field[1..]);
                    self.state = match (field[0], id) {
                        (BLK_DATA, Some(id)) => match self.tables.get(&id) {
                            Some(&i) => State::ChunkLen(Owner::Table(i)),
                            None => State::ChunkLen(Owner::Other),
                        },
                        (BLK_BLOBS, Some(_)) => State::BlobOid,
                        (kind, _) => {
                            self.fail(format!("unexpected data block type {kind}"));
                            return;
                        }
                    };
                }
                State::ChunkLen(owner) => {
                    let need = 1 + self.layout.int_size;
                    let Some(field) = self.take(&mut data, need) else {
                        return;
                    };
                    self.state = match (decode_int(&field), owner) {
                        (Some(0), Owner::Blob) => State::BlobOid,
                        (Some(0), Owner::Table(i)) => {
                            self.counts[i].1 -= std::mem::take(&mut self.tail).trailer_lines();
                            State::BlockHeader
                        }
                        (Some(0), Owner::Other) => State::BlockHeader,
                        (Some(len), _) if len > 0 => State::Chunk {
                            owner,
                            left: usize::try_from(len).unwrap_or(usize::MAX),
                        },
                        _ => {
                            self.fail("negative chunk length".into());
                            return;
                        }
                    };
                }
                State::BlobOid => {
                    let need = 1 + self.layout.int_size;
                    let Some(field) = self.take(&mut data, need) else {
                        return;
                    };
                    self.state = match decode_int(&field) {
                        Some(0) => State::BlockHeader,
                        Some(_) => State::ChunkLen(Owner::Blob),
                        None => {
                            self.fail("bad large-object OID".into());
                            return;
                        }
                    };
                }
            }
        }
    }

    /// The counts per `schema.table`, if the whole archive was understood and ended on
    /// a block boundary; otherwise why not.
    pub fn finish(self) -> Result<BTreeMap<String, i64>, String> {
        if let Some(why) = self.failure {
            return Err(why);
        }
        match self.state {
            State::BlockHeader if self.pending.is_empty() => Ok(self.counts.into_iter().collect()),
            State::Toc => Err("the archive ended inside its table of contents".into()),
            _ => Err("the archive ended inside a data block".into()),
        }
    }

    fn fail(&mut self, why: String) {
        self.failure = Some(why);
        self.state = State::Failed;
        self.pending = Vec::new();
        self.tables.clear();
    }

    /// Returns exactly `need` bytes, from `pending` plus the head of `data`, or stashes
    /// what there is and returns `None`.
    fn take(&mut self, data: &mut &[u8], need: usize) -> Option<Vec<u8>> {
        let missing = need - self.pending.len();
        if data.len() < missing {
            self.pending.extend_from_slice(data);
            *data = &[];
            return None;
        }
        let mut field = std::mem::take(&mut self.pending);
        field.extend_from_slice(&data[..missing]);
        *data = &data[missing..];
        Some(field)
    }

    fn try_parse_toc(&mut self) {
        let mut r = Reader {
            buf: &self.pending,
            pos: 0,
            int_size: 0,
        };
        match parse_toc(&mut r) {
            Ok(toc) => {
                let used = r.pos;
                self.layout = Layout {
                    int_size: toc.int_size,
                };
                for (id, name) in toc.tables {
                    self.tables.insert(id, self.counts.len());
                    self.counts.push((name, 0));
                }
                let rest = self.pending.split_off(used);
                self.pending = Vec::new();
                self.state = State::BlockHeader;
                self.feed(&rest);
            }
            Err(Parse::Incomplete) if self.pending.len() <= MAX_TOC_BYTES => {}
            Err(Parse::Incomplete) => self.fail("table of contents too large".into()),
            Err(Parse::Unsupported(why)) => self.fail(why),
        }
    }
}

/// The last bytes of a table's COPY data, and whether they are all of it.
#[derive(Debug, Default)]
struct Tail {
    bytes: Vec<u8>,
    total: u64,
}

impl Tail {
    const KEEP: usize = 64;

    fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let from = data.len().saturating_sub(Self::KEEP);
        self.bytes.extend_from_slice(&data[from..]);
        let excess = self.bytes.len().saturating_sub(Self::KEEP);
        self.bytes.drain(..excess);
    }

    /// Newlines that belong to the end-of-data trailer (`\.` line plus blank lines),
    /// 0 when the data does not end with one.
    fn trailer_lines(&self) -> i64 {
        let b = &self.bytes;
        let newlines = b.iter().rev().take_while(|c| **c == b'\n').count();
        let body = &b[..b.len() - newlines];
        let Some(before) = body.strip_suffix(b"\\.") else {
            return 0;
        };
        let at_line_start = match before.last() {
            Some(c) => *c == b'\n',
            None => self.total == self.bytes.len() as u64,
        };
        if at_line_start && newlines > 0 {
            newlines as i64
        } else {
            0
        }
    }
}

enum Parse {
    Incomplete,
    Unsupported(String),
}

struct Toc {
    int_size: usize,
    /// (dump id, `schema.table`) of each `TABLE DATA` entry.
    tables: Vec<(i64, String)>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    int_size: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], Parse> {
        let end = self.pos.checked_add(n).ok_or(Parse::Incomplete)?;
        let out = self.buf.get(self.pos..end).ok_or(Parse::Incomplete)?;
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, Parse> {
        Ok(self.bytes(1)?[0])
    }

    fn int(&mut self) -> Result<i64, Parse> {
        let n = 1 + self.int_size;
        let raw = self.bytes(n)?;
        decode_int(raw).ok_or_else(|| Parse::Unsupported("integer out of range".into()))
    }

    /// A length-prefixed string; `None` for SQL NULL (length -1).
    fn string(&mut self) -> Result<Option<String>, Parse> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| Parse::Unsupported("string length".into()))?;
        if len > MAX_TOC_BYTES {
            return Err(Parse::Unsupported(
                "string longer than the TOC limit".into(),
            ));
        }
        Ok(Some(String::from_utf8_lossy(self.bytes(len)?).into_owned()))
    }

    fn offset(&mut self, off_size: usize) -> Result<(), Parse> {
        self.bytes(1 + off_size).map(|_| ())
    }
}

/// Decodes the archive's integer: a sign byte, then little-endian magnitude bytes.
fn decode_int(raw: &[u8]) -> Option<i64> {
    let (&sign, magnitude) = raw.split_first()?;
    if magnitude.len() > 8 {
        return None;
    }
    let mut v: u64 = 0;
    for (i, b) in magnitude.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    let v = i64::try_from(v).ok()?;
    Some(if sign == 0 { v } else { -v })
}

fn parse_toc(r: &mut Reader<'_>) -> Result<Toc, Parse> {
    if r.bytes(5)? != b"PGDMP" {
        return Err(Parse::Unsupported("not a custom-format archive".into()));
    }
    let version = (r.byte()?, r.byte()?);
    let _revision = r.byte()?;
    if version < MIN_VERSION || version > MAX_VERSION {
        return Err(Parse::Unsupported(format!(
            "archive version {}.{} is not one this reader knows",
            version.0, version.1
        )));
    }
    let int_size = usize::from(r.byte()?);
    let off_size = usize::from(r.byte()?);
    if !(1..=8).contains(&int_size) || !(1..=8).contains(&off_size) {
        return Err(Parse::Unsupported("implausible integer sizes".into()));
    }
    r.int_size = int_size;
    if r.byte()? != FORMAT_CUSTOM {
        return Err(Parse::Unsupported("not the custom format".into()));
    }
    let compressed = if version >= (1, 15) {
        r.byte()? != 0
    } else {
        r.int()? != 0
    };
    if compressed {
        return Err(Parse::Unsupported(
            "the archive's data is compressed".into(),
        ));
    }
    for _ in 0..7 {
        r.int()?; // creation time: sec, min, hour, mday, mon, year, isdst
    }
    r.string()?; // database name
    r.string()?; // server version
    r.string()?; // pg_dump version
    let entries = r.int()?;
    let mut tables = Vec::new();
    for _ in 0..entries {
        let dump_id = r.int()?;
        let _had_dumper = r.int()?;
        r.string()?; // table oid
        r.string()?; // oid
        let tag = r.string()?.unwrap_or_default();
        let desc = r.string()?.unwrap_or_default();
        let _section = r.int()?;
        r.string()?; // definition
        r.string()?; // drop statement
        r.string()?; // copy statement
        let namespace = r.string()?.unwrap_or_default();
        r.string()?; // tablespace
        r.string()?; // table access method
        if version >= (1, 16) {
            r.int()?; // relkind
        }
        r.string()?; // owner
        r.string()?; // "with oids", always false
        while r.string()?.is_some() {} // dependencies, ended by NULL
        r.offset(off_size)?; // data state and position
        if desc == "TABLE DATA" {
            tables.push((dump_id, format!("{namespace}.{tag}")));
        }
    }
    Ok(Toc { int_size, tables })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Writes an archive the way pg_dump 15 (format 1.14) does, for the reader tests.
    struct Writer(Vec<u8>);

    impl Writer {
        fn int(&mut self, v: i64) {
            self.0.push(u8::from(v < 0));
            self.0
                .extend_from_slice(&v.unsigned_abs().to_le_bytes()[..4]);
        }
        fn string(&mut self, s: Option<&str>) {
            match s {
                None => self.int(-1),
                Some(s) => {
                    self.int(s.len() as i64);
                    self.0.extend_from_slice(s.as_bytes());
                }
            }
        }
        fn entry(&mut self, id: i64, desc: &str, ns: &str, tag: &str) {
            self.int(id);
            self.int(1);
            self.string(Some("0"));
            self.string(Some("0"));
            self.string(Some(tag));
            self.string(Some(desc));
            self.int(3);
            self.string(Some(""));
            self.string(Some(""));
            self.string(Some("COPY x FROM stdin;\n"));
            self.string(Some(ns));
            self.string(Some(""));
            self.string(Some("heap"));
            self.string(Some("postgres"));
            self.string(Some("false"));
            self.string(Some("12"));
            self.string(None);
            self.0.push(2);
            self.0.extend_from_slice(&[0; 8]);
        }
        fn data(&mut self, id: i64, chunks: &[&str]) {
            self.0.push(BLK_DATA);
            self.int(id);
            for c in chunks {
                self.int(c.len() as i64);
                self.0.extend_from_slice(c.as_bytes());
            }
            self.int(0);
        }
    }

    fn archive() -> Vec<u8> {
        let mut w = Writer(b"PGDMP".to_vec());
        w.0.extend_from_slice(&[1, 14, 0, 4, 8, FORMAT_CUSTOM]);
        w.int(0);
        for v in [1, 2, 3, 4, 5, 2026, 0] {
            w.int(v);
        }
        w.string(Some("shop"));
        w.string(Some("15.8"));
        w.string(Some("15.8"));
        w.int(5);
        w.entry(10, "TABLE", "public", "orders");
        w.entry(23, "TABLE DATA", "public", "blank_rows");
        w.entry(20, "TABLE DATA", "public", "orders");
        w.entry(21, "TABLE DATA", "sales", "empty");
        w.entry(22, "BLOBS", "", "BLOBS");
        w.data(20, &["1\ta\\nb\n2\tc\n", "3\td\n\\", ".\n\n\n"]);
        w.data(21, &["\\.\n\n\n"]);
        w.data(23, &["\n", "a\\.\n", "\\.\n\n\n"]);
        w.0.push(BLK_BLOBS);
        w.int(22);
        w.int(16_400);
        w.int(3);
        w.0.extend_from_slice(b"\n\n\n");
        w.int(0);
        w.int(0);
        w.0
    }

    fn counted(bytes: &[u8], step: usize) -> Result<BTreeMap<String, i64>, String> {
        let mut c = ArchiveRowCounter::new();
        for chunk in bytes.chunks(step) {
            c.feed(chunk);
        }
        c.finish()
    }

    #[test]
    fn counts_rows_per_table_whatever_the_read_sizes() {
        let bytes = archive();
        for step in [1, 2, 3, 7, 64, bytes.len()] {
            let counts = counted(&bytes, step).unwrap();
            assert_eq!(counts.get("public.orders"), Some(&3), "step {step}");
            assert_eq!(counts.get("sales.empty"), Some(&0), "step {step}");
            assert_eq!(counts.get("public.blank_rows"), Some(&2), "step {step}");
            assert_eq!(counts.len(), 3, "step {step}");
        }
    }

    #[test]
    fn a_truncated_archive_is_not_counted() {
        let bytes = archive();
        for cut in [10, 200, bytes.len() - 1] {
            assert!(counted(&bytes[..cut], 5).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn unknown_versions_and_compressed_data_are_refused() {
        let mut newer = archive();
        newer[6] = 17;
        assert!(counted(&newer, 100).unwrap_err().contains("version 1.17"));
        let mut compressed = archive();
        compressed[12] = 6; // magnitude of the header's compression level (format 1.14)
        assert!(
            counted(&compressed, 100)
                .unwrap_err()
                .contains("compressed")
        );
        assert!(counted(b"-- plain SQL dump\n", 4).is_err());
    }
}
