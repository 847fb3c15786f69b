//! The header and table of contents (TOC) of a `pg_dump` custom-format archive, parsed
//! from the bytes at its start (pure). Written to a pipe, the archive is: a header, the
//! TOC, then one data block per TOC entry with data, in dump order
//! ([`crate::pg::archive_walk`] walks those).
//!
//! The parser is deliberately strict: an archive version it does not know or compressed
//! data make it give up ([`Parse::Unsupported`]); callers then fall back to the tools.

/// Archive format versions this parser understands (major, minor): PostgreSQL 12 to 18
/// write 1.14 to 1.16.
const MIN_VERSION: (u8, u8) = (1, 14);
const MAX_VERSION: (u8, u8) = (1, 16);
/// Archive format byte of the custom format.
pub const FORMAT_CUSTOM: u8 = 1;
/// Block types of the custom format.
pub const BLK_DATA: u8 = 1;
pub const BLK_BLOBS: u8 = 3;
/// The header and TOC are buffered until parsed; beyond this the parser gives up.
pub const MAX_TOC_BYTES: usize = 256 << 20;
/// Sections of a TOC entry.
pub const SECTION_DATA: i64 = 3;
pub const SECTION_POST_DATA: i64 = 4;
/// Data states of a TOC entry: data present, position unknown (written to a pipe); no data.
pub const OFFSET_POS_NOT_SET: u8 = 1;
pub const OFFSET_NO_DATA: u8 = 3;

/// Why the TOC could not be parsed (yet).
pub enum Parse {
    /// More bytes are needed.
    Incomplete,
    /// A layout this parser does not handle.
    Unsupported(String),
}

/// One entry of the TOC (the fields the runner uses).
#[derive(Clone, Debug)]
pub struct TocEntry {
    pub dump_id: i64,
    pub desc: String,
    pub section: i64,
    pub namespace: String,
    pub tag: String,
    /// The SQL of the entry (`SET client_encoding = …` for `ENCODING`).
    pub defn: Option<String>,
    /// `COPY schema.table (columns) FROM stdin;` of a `TABLE DATA` entry.
    pub copy_stmt: Option<String>,
    /// The data state ([`OFFSET_POS_NOT_SET`], [`OFFSET_NO_DATA`], or a known position).
    pub offset_state: u8,
    /// Dump ids of the entries this one depends on.
    pub deps: Vec<i64>,
}

impl TocEntry {
    /// Whether this entry's data is a table's COPY text.
    pub fn is_table_data(&self) -> bool {
        self.desc == "TABLE DATA"
    }

    /// `schema.table`.
    pub fn table_name(&self) -> String {
        format!("{}.{}", self.namespace, self.tag)
    }
}

/// The parsed header and TOC.
#[derive(Clone, Debug)]
pub struct Toc {
    pub int_size: usize,
    pub entries: Vec<TocEntry>,
    /// Bytes of the header and TOC: the data blocks start here.
    pub len: usize,
}

impl Toc {
    /// The `TABLE DATA` entries, in TOC order.
    pub fn table_data(&self) -> impl Iterator<Item = &TocEntry> {
        self.entries.iter().filter(|e| e.is_table_data())
    }
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

    /// The data state byte (the position after it is not used).
    fn offset(&mut self, off_size: usize) -> Result<u8, Parse> {
        self.bytes(1 + off_size).map(|b| b[0])
    }
}

/// Decodes the archive's integer: a sign byte, then little-endian magnitude bytes.
pub fn decode_int(raw: &[u8]) -> Option<i64> {
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

/// Parses the header and TOC at the start of `buf`.
pub fn parse_toc(buf: &[u8]) -> Result<Toc, Parse> {
    let mut r = Reader {
        buf,
        pos: 0,
        int_size: 0,
    };
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
    let count = r.int()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let dump_id = r.int()?;
        let _had_dumper = r.int()?;
        r.string()?; // table oid
        r.string()?; // oid
        let tag = r.string()?.unwrap_or_default();
        let desc = r.string()?.unwrap_or_default();
        let section = r.int()?;
        let defn = r.string()?;
        r.string()?; // drop statement
        let copy_stmt = r.string()?;
        let namespace = r.string()?.unwrap_or_default();
        r.string()?; // tablespace
        r.string()?; // table access method
        if version >= (1, 16) {
            r.int()?; // relkind
        }
        r.string()?; // owner
        r.string()?; // "with oids", always false
        let mut deps = Vec::new();
        while let Some(dep) = r.string()? {
            // Dependencies, ended by NULL; an unreadable one is left out.
            if let Ok(id) = dep.trim().parse() {
                deps.push(id);
            }
        }
        let offset_state = r.offset(off_size)?;
        entries.push(TocEntry {
            dump_id,
            desc,
            section,
            namespace,
            tag,
            defn,
            copy_stmt,
            offset_state,
            deps,
        });
    }
    Ok(Toc {
        int_size,
        entries,
        len: r.pos,
    })
}

/// Builds archives the way pg_dump 15 (format 1.14) writes them, for tests.
#[cfg(test)]
pub mod testing {
    use super::{BLK_BLOBS, BLK_DATA, FORMAT_CUSTOM};

    pub struct Writer(pub Vec<u8>);

    impl Writer {
        pub fn int(&mut self, v: i64) {
            self.0.push(u8::from(v < 0));
            self.0
                .extend_from_slice(&v.unsigned_abs().to_le_bytes()[..4]);
        }
        pub fn string(&mut self, s: Option<&str>) {
            match s {
                None => self.int(-1),
                Some(s) => {
                    self.int(s.len() as i64);
                    self.0.extend_from_slice(s.as_bytes());
                }
            }
        }
        pub fn entry(&mut self, id: i64, desc: &str, ns: &str, tag: &str) {
            self.int(id);
            self.int(1);
            self.string(Some("0"));
            self.string(Some("0"));
            self.string(Some(tag));
            self.string(Some(desc));
            self.int(3);
            self.string(Some(""));
            self.string(Some(""));
            self.string(Some(&format!("COPY {ns}.{tag} FROM stdin;\n")));
            self.string(Some(ns));
            self.string(Some(""));
            self.string(Some("heap"));
            self.string(Some("postgres"));
            self.string(Some("false"));
            self.string(Some("12"));
            self.string(None);
            self.0.push(1);
            self.0.extend_from_slice(&[0; 8]);
        }
        pub fn data(&mut self, id: i64, chunks: &[&str]) {
            self.0.push(BLK_DATA);
            self.int(id);
            for c in chunks {
                self.int(c.len() as i64);
                self.0.extend_from_slice(c.as_bytes());
            }
            self.int(0);
        }
    }

    /// A header and TOC of five entries (a table, three table data, large objects),
    /// then their blocks; returns the archive and the TOC's length.
    pub fn archive() -> (Vec<u8>, usize) {
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
        let toc = w.0.len();
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
        (w.0, toc)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_entries_and_where_the_data_starts() {
        let (bytes, len) = testing::archive();
        let Ok(toc) = parse_toc(&bytes) else {
            panic!("not parsed")
        };
        assert_eq!(toc.len, len);
        assert_eq!(toc.entries.len(), 5);
        let names: Vec<String> = toc.table_data().map(TocEntry::table_name).collect();
        assert_eq!(names, ["public.blank_rows", "public.orders", "sales.empty"]);
        assert_eq!(toc.entries[2].deps, [12]);
        assert_eq!(
            toc.entries[2].copy_stmt.as_deref(),
            Some("COPY public.orders FROM stdin;\n")
        );
        assert!(matches!(
            parse_toc(&bytes[..len - 1]),
            Err(Parse::Incomplete)
        ));
    }
}
