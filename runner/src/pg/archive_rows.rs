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

use std::collections::BTreeMap;

use crate::pg::archive_toc::Toc;
use crate::pg::archive_walk::{ArchiveWalker, Visit, copy_trailer};

/// Incremental row counter over a custom-format archive stream.
pub struct ArchiveRowCounter {
    walker: ArchiveWalker<Counter>,
}

impl std::fmt::Debug for ArchiveRowCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveRowCounter").finish_non_exhaustive()
    }
}

/// The counts, and the end of the current table's data.
#[derive(Debug, Default)]
struct Counter {
    counts: Vec<(String, i64)>,
    tail: Tail,
}

impl Visit for Counter {
    fn toc(&mut self, toc: &Toc, _raw: &[u8]) -> bool {
        self.counts = toc.table_data().map(|e| (e.table_name(), 0)).collect();
        true
    }

    fn table_data(&mut self, index: usize, data: &[u8]) -> bool {
        let rows = memchr::memchr_iter(b'\n', data).count();
        self.counts[index].1 += rows as i64;
        self.tail.push(data);
        true
    }

    fn table_end(&mut self, index: usize) -> bool {
        self.counts[index].1 -= std::mem::take(&mut self.tail).trailer_lines();
        true
    }
}

impl Default for ArchiveRowCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl ArchiveRowCounter {
    pub fn new() -> Self {
        Self {
            walker: ArchiveWalker::new(Counter::default()),
        }
    }

    /// Consumes the next bytes of the archive.
    pub fn feed(&mut self, data: &[u8]) {
        self.walker.feed(data);
    }

    /// The counts per `schema.table`, if the whole archive was understood and ended on
    /// a block boundary; otherwise why not.
    pub fn finish(self) -> Result<BTreeMap<String, i64>, String> {
        let (counter, verdict) = self.walker.finish();
        verdict.map(|()| counter.counts.into_iter().collect())
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

    /// Newlines that belong to the end-of-data trailer (`\\.` line plus blank lines),
    /// 0 when the data does not end with one.
    fn trailer_lines(&self) -> i64 {
        let whole = self.total == self.bytes.len() as u64;
        copy_trailer(&self.bytes, whole).map_or(0, |(_, newlines)| newlines as i64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn archive() -> Vec<u8> {
        crate::pg::archive_toc::testing::archive().0
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
