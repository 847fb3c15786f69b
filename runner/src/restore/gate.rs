//! The checksum gate: a writer that forwards a stream to the restoring tool but holds
//! back its last [`HOLD_BYTES`] until told that the SHA-256 of the whole stored object
//! matched the manifest.
//!
//! # Why holding back the end is enough
//!
//! The restore runs in one transaction, and the tool that owns the transaction commits
//! only after it has read the end of its input:
//!
//! - `psql --single-transaction` (plain-format backups, and the SQL route below) sends
//!   `COMMIT` when its input ends. While the runner holds bytes back the input has not
//!   ended, so nothing can have committed.
//! - `pg_restore --single-transaction` (custom format, the direct route) commits after
//!   processing every TOC entry it restores. A custom archive written to a pipe is
//!   header, TOC, then one data block per entry with data, in TOC order, and nothing
//!   after the last block (the seekable-output TOC rewrite does not happen on a pipe).
//!   pg_restore reads stdin strictly forward — it cannot seek on a pipe, which is also
//!   why only a single job works from stdin — and restores entries in TOC order, so
//!   when *every* data entry is restored (full or data-only without a table selection)
//!   it must read the last data block up to its end marker, the archive's final bytes,
//!   before it reaches `COMMIT`. An archive without data blocks ends with its TOC,
//!   which pg_restore reads before doing anything. One held-back byte would block it;
//!   the gate holds back at least one whole decompressed buffer. Only full restores
//!   of every table take this route.
//!
//! That argument fails when pg_restore does *not* need the end of the archive: with a
//! table selection (`-t`) it stops after the last selected block, and `--schema-only`
//! reads no data blocks at all, so it could commit while the rest of the object is
//! still downloading. Those modes, and every data-only restore (which needs statements
//! of the runner around the data, see [`crate::restore::foreign_keys`]), take the SQL
//! route instead: `pg_restore -f -` (no database connection, cannot commit anything,
//! and run without `--single-transaction` so that it writes no `BEGIN`/`COMMIT`)
//! turns the archive into SQL, and the gate sits on the input of
//! `psql --single-transaction`, which commits only at its end of input (see
//! [`crate::restore::plan`]); the runner's closing statements are written after the
//! release and before that end. As a last line of defence the orchestrator refuses to
//! release the gate if the tool has already exited.
//!
//! On a mismatch (or any failure, a signal, a panic) the gate is dropped without being
//! released: its [`GatedStdin`](crate::pg::child::GatedStdin) kills the tool *before*
//! the pipe closes, the server sees the connection vanish and rolls back, and the
//! target is exactly as before.
//!
//! Memory: at most [`HOLD_BYTES`] plus one buffer are held; buffers are forwarded and
//! recycled whole, without copying.

use std::collections::VecDeque;
use std::io::{self, Write};

/// Bytes of the stream's end held back until the checksum matched (≥ one buffer).
pub const HOLD_BYTES: usize = 1 << 20;

/// The held-back tail in front of a writer.
#[derive(Debug)]
pub struct Gate<W: Write> {
    out: W,
    held: VecDeque<Vec<u8>>,
    held_bytes: usize,
    hold: usize,
    forwarded: u64,
}

impl<W: Write> Gate<W> {
    /// A gate holding back the last `hold` bytes (at least 1).
    pub fn new(out: W, hold: usize) -> Self {
        Self {
            out,
            held: VecDeque::new(),
            held_bytes: 0,
            hold: hold.max(1),
            forwarded: 0,
        }
    }

    /// Takes one filled buffer; forwards whole buffers while the rest still holds
    /// back at least `hold` bytes. Returns an emptied buffer for reuse, if one is free.
    pub fn push(&mut self, block: Vec<u8>) -> io::Result<Option<Vec<u8>>> {
        if block.is_empty() {
            return Ok(Some(block));
        }
        self.held_bytes += block.len();
        self.held.push_back(block);
        let mut spare = None;
        while let Some(front) = self.held.front() {
            if self.held_bytes - front.len() < self.hold {
                break;
            }
            let Some(mut front) = self.held.pop_front() else {
                break;
            };
            self.out.write_all(&front)?;
            self.held_bytes -= front.len();
            self.forwarded += front.len() as u64;
            front.clear();
            spare = Some(front);
        }
        Ok(spare)
    }

    /// Bytes forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }

    /// Bytes currently held back.
    pub fn held(&self) -> usize {
        self.held_bytes
    }

    /// Writes the held-back tail and returns the writer (the caller then ends its input).
    pub fn release(mut self) -> io::Result<W> {
        while let Some(block) = self.held.pop_front() {
            self.out.write_all(&block)?;
            self.forwarded += block.len() as u64;
        }
        self.held_bytes = 0;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Gives up the hold without writing: the writer and the held-back tail (for a
    /// caller that inserts statements into it before writing it).
    pub fn into_tail(self) -> (W, Vec<u8>) {
        let tail = self.held.into_iter().flatten().collect();
        (self.out, tail)
    }

    /// Writes bytes that bypass the hold (a prefix before the stream, e.g. `TRUNCATE`).
    pub fn write_prefix(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_held_until_release_and_nothing_is_lost() {
        let mut gate = Gate::new(Vec::new(), 10);
        let mut all = Vec::new();
        for (i, len) in [4usize, 7, 1, 12, 3, 5].into_iter().enumerate() {
            let block = vec![i as u8; len];
            all.extend_from_slice(&block);
            gate.push(block).unwrap();
            assert!(gate.held() >= 10.min(all.len()), "holds at least the tail");
            assert_eq!(gate.forwarded() as usize + gate.held(), all.len());
        }
        let forwarded = gate.forwarded() as usize;
        assert!(forwarded < all.len() - 9);
        let out = gate.release().unwrap();
        assert_eq!(out, all);
    }

    #[test]
    fn an_unreleased_gate_never_forwards_the_last_bytes() {
        let mut gate = Gate::new(Vec::new(), 1 << 20);
        for _ in 0..5 {
            gate.push(vec![1u8; 300_000]).unwrap();
        }
        // 1.5 MB pushed, at least 1 MiB held: only whole blocks before the tail passed.
        assert_eq!(gate.forwarded(), 300_000);
        assert_eq!(gate.held(), 1_200_000);
    }

    #[test]
    fn buffers_come_back_for_reuse_and_the_prefix_goes_first() {
        let mut gate = Gate::new(Vec::new(), 2);
        gate.write_prefix(b"P").unwrap();
        assert!(gate.push(b"ab".to_vec()).unwrap().is_none());
        let spare = gate.push(b"cd".to_vec()).unwrap();
        assert_eq!(spare.map(|b| (b.len(), b.capacity() >= 2)), Some((0, true)));
        assert_eq!(gate.release().unwrap(), b"Pabcd");
    }

    #[test]
    fn the_tail_can_be_taken_unwritten() {
        let mut gate = Gate::new(Vec::new(), 3);
        for block in [b"ab".to_vec(), b"cd".to_vec(), b"e".to_vec()] {
            gate.push(block).unwrap();
        }
        let (out, tail) = gate.into_tail();
        assert_eq!((out.as_slice(), tail.as_slice()), (&b"ab"[..], &b"cde"[..]));
    }
}
