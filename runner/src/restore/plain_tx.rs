//! A plain dump restored by `psql --single-transaction` must stay one transaction. But
//! pg_dump writes its own `BEGIN;` … `COMMIT;` around large objects; inside psql's
//! transaction that `COMMIT;` would commit everything restored so far, and a later
//! failure (a corrupt object, a failing constraint) could no longer roll it back.
//!
//! This filter turns such top-level lines into comments as the SQL streams past: a line
//! that is exactly `BEGIN;` outside `COPY … FROM stdin;` data, and the first line that is
//! exactly `COMMIT;` after it. pg_dump writes nothing else on such lines: a function or
//! procedure body cannot contain `BEGIN;` (PL/pgSQL's `BEGIN` takes no semicolon, SQL
//! functions cannot control transactions), and a `COMMIT;` is only taken when it follows
//! a neutralised `BEGIN;`. Pure and streaming: complete lines pass at once, a partial
//! last line waits for the next block.

use memchr::memchr_iter;

/// What a neutralised line is replaced by (the original in a comment).
const NOTE: &[u8] = b" -- neutralised by tidemark-runner: the restore is one transaction\n";

/// The filter's state between blocks.
#[derive(Debug, Default)]
pub struct TxFilter {
    partial: Vec<u8>,
    in_copy: bool,
    open: bool,
    /// Lines neutralised so far.
    pub neutralised: u32,
}

impl TxFilter {
    /// Filters `block`, appending complete lines to `out`.
    pub fn feed(&mut self, block: &[u8], out: &mut Vec<u8>) {
        let mut start = 0;
        for nl in memchr_iter(b'\n', block) {
            if self.partial.is_empty() {
                self.line(&block[start..=nl], out);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&block[start..=nl]);
                self.line(&line, out);
            }
            start = nl + 1;
        }
        self.partial.extend_from_slice(&block[start..]);
    }

    /// The rest of the stream (a last line without a newline).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let rest = std::mem::take(&mut self.partial);
        if !rest.is_empty() {
            self.line(&rest, out);
        }
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if self.in_copy {
            self.in_copy = text != b"\\.";
        } else if text.starts_with(b"COPY ") && text.ends_with(b" FROM stdin;") {
            self.in_copy = true;
        } else if text == b"BEGIN;" || (self.open && text == b"COMMIT;") {
            self.open = text == b"BEGIN;";
            self.neutralised += 1;
            out.extend_from_slice(b"-- ");
            out.extend_from_slice(text);
            out.extend_from_slice(NOTE);
            return;
        }
        out.extend_from_slice(line);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn filter(input: &[u8], block: usize) -> (String, u32) {
        let mut f = TxFilter::default();
        let mut out = Vec::new();
        for chunk in input.chunks(block) {
            f.feed(chunk, &mut out);
        }
        f.finish(&mut out);
        (String::from_utf8(out).unwrap(), f.neutralised)
    }

    const DUMP: &[u8] = b"CREATE TABLE t (a text);\n\
COPY public.t (a) FROM stdin;\nBEGIN;\nCOMMIT;\n\\.\n\n\
CREATE PROCEDURE p() LANGUAGE plpgsql AS $$\nBEGIN\nCOMMIT;\nEND $$;\n\n\
BEGIN;\n\nSELECT pg_catalog.lo_open('16385', 131072);\nSELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n\n\
ALTER TABLE ONLY public.t ADD CONSTRAINT k PRIMARY KEY (a);\nCOMMIT;";

    #[test]
    fn only_the_large_object_transaction_is_neutralised() {
        for block in [1, 2, 7, 64, DUMP.len()] {
            let (out, n) = filter(DUMP, block);
            assert_eq!(n, 2, "block {block}: {out}");
            // COPY data and the procedure body are untouched.
            assert!(out.contains("FROM stdin;\nBEGIN;\nCOMMIT;\n\\.\n"), "{out}");
            assert!(out.contains("$$\nBEGIN\nCOMMIT;\nEND $$"), "{out}");
            assert!(out.contains("\n-- BEGIN; -- neutralised"), "{out}");
            assert!(out.contains("\n-- COMMIT; -- neutralised"), "{out}");
            // A COMMIT without a preceding BEGIN stays (here: the last line).
            assert!(out.ends_with("PRIMARY KEY (a);\nCOMMIT;"), "{out}");
            assert_eq!(out.lines().count(), DUMP.split(|&b| b == b'\n').count());
        }
    }

    #[test]
    fn a_dump_without_transaction_control_passes_unchanged() {
        let dump = b"CREATE TABLE t (a int);\nCOPY public.t (a) FROM stdin;\n1\n\\.\n";
        assert_eq!(
            filter(dump, 5),
            (String::from_utf8(dump.to_vec()).unwrap(), 0)
        );
    }
}
