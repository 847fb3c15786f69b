//! The last stage of the stream: hashes the stored bytes (SHA-256, hardware-accelerated
//! where the CPU has SHA extensions) as they pass, cuts them into upload parts and hands
//! full parts to the uploader. A part buffer is only allocated after a permit from the
//! shared semaphore was granted, and the permit travels with the part until its upload
//! finished: memory is bounded by part size × parts in flight, and the stream waits
//! (back-pressure) while all parts are busy.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::pipeline::part_size::MAX_PARTS;

/// One part ready for upload.
#[derive(Debug)]
pub struct Part {
    /// 1-based part number.
    pub number: i32,
    pub data: Bytes,
    /// Released when the part's upload finished (or failed).
    pub permit: OwnedSemaphorePermit,
}

/// What the stream stored, known once the sink finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub bytes: u64,
    pub sha256: String,
    pub parts: u32,
}

/// Hashing, part-cutting writer.
pub struct PartSink {
    tx: mpsc::UnboundedSender<Part>,
    permits: Arc<Semaphore>,
    runtime: Handle,
    part_size: u64,
    current: Option<(Vec<u8>, OwnedSemaphorePermit)>,
    next_number: u32,
    hasher: Sha256,
    stored: u64,
}

impl PartSink {
    /// A sink sending parts to `tx`, with `permits` bounding the parts alive at once.
    pub fn new(
        tx: mpsc::UnboundedSender<Part>,
        permits: Arc<Semaphore>,
        runtime: Handle,
        part_size: u64,
    ) -> Self {
        Self {
            tx,
            permits,
            runtime,
            part_size,
            current: None,
            next_number: 1,
            hasher: Sha256::new(),
            stored: 0,
        }
    }

    fn stopped() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped")
    }

    /// The buffer of the part being filled, acquiring a permit first (may wait).
    fn buffer(&mut self) -> io::Result<&mut Vec<u8>> {
        if self.current.is_none() {
            let permit = self
                .runtime
                .block_on(self.permits.clone().acquire_owned())
                .map_err(|_| Self::stopped())?;
            if self.next_number > MAX_PARTS {
                return Err(io::Error::other(format!(
                    "the backup outgrew {MAX_PARTS} parts of {} MiB; set TIDEMARK_PART_SIZE \
                     larger (the next run also picks a larger size from this one's manifest \
                     once one succeeds)",
                    self.part_size >> 20
                )));
            }
            let cap = usize::try_from(self.part_size).map_err(|_| Self::stopped())?;
            self.current = Some((Vec::with_capacity(cap), permit));
        }
        match self.current.as_mut() {
            Some((buf, _)) => Ok(buf),
            None => Err(Self::stopped()),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        let Some((buf, permit)) = self.current.take() else {
            return Ok(());
        };
        let number = i32::try_from(self.next_number).map_err(|_| Self::stopped())?;
        self.next_number += 1;
        self.tx
            .send(Part {
                number,
                data: Bytes::from(buf),
                permit,
            })
            .map_err(|_| Self::stopped())
    }

    /// Sends the last part (an empty one if nothing was written at all) and returns
    /// the stored size and hash.
    pub fn finish(mut self) -> io::Result<Stored> {
        if self.current.is_some() || self.next_number == 1 {
            self.buffer()?;
            self.emit()?;
        }
        Ok(Stored {
            bytes: self.stored,
            sha256: hex::encode(self.hasher.finalize_reset()),
            parts: self.next_number - 1,
        })
    }
}

impl Write for PartSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        let part = self.part_size;
        while !rest.is_empty() {
            let buf = self.buffer()?;
            let room = usize::try_from(part).unwrap_or(usize::MAX) - buf.len();
            let n = room.min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            let full = buf.len() as u64 == part;
            rest = &rest[n..];
            if full {
                self.emit()?;
            }
        }
        self.hasher.update(data);
        self.stored += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_cut_at_the_part_size_and_hash_covers_all_bytes() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(16));
        let part = 5 << 20;
        let mut sink = PartSink::new(tx, permits.clone(), rt.handle().clone(), part);
        let data = vec![7u8; (part as usize) * 2 + 123];
        for chunk in data.chunks(100_000) {
            sink.write_all(chunk).unwrap();
        }
        let stored = sink.finish().unwrap();
        assert_eq!(stored.bytes, data.len() as u64);
        assert_eq!(stored.parts, 3);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&data)));
        let mut sizes = Vec::new();
        while let Ok(p) = rx.try_recv() {
            sizes.push((p.number, p.data.len()));
        }
        assert_eq!(
            sizes,
            vec![(1, part as usize), (2, part as usize), (3, 123)]
        );
    }

    #[test]
    fn parts_stay_equal_however_many_there_are_and_10001_is_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(usize::MAX >> 4));
        let mut sink = PartSink::new(tx, permits, rt.handle().clone(), 16);
        // 2,000 parts of 16 bytes and a short last one: all equal but the last.
        sink.write_all(&vec![1u8; 16 * 2000 + 5]).unwrap();
        let stored = sink.finish().unwrap();
        assert_eq!(stored.parts, 2001);
        let mut sizes = Vec::new();
        while let Ok(p) = rx.try_recv() {
            sizes.push(p.data.len());
        }
        assert_eq!(sizes.len(), 2001);
        assert!(
            sizes[..2000].iter().all(|&s| s == 16),
            "{:?}",
            &sizes[895..905]
        );
        assert_eq!(sizes[2000], 5);

        let (tx, _rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(usize::MAX >> 4));
        let mut sink = PartSink::new(tx, permits, rt.handle().clone(), 1);
        let err = sink.write_all(&vec![0u8; 10_001]).unwrap_err();
        assert!(err.to_string().contains("10000 parts"), "{err}");
    }

    #[test]
    fn a_closed_semaphore_stops_the_stream() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(1));
        permits.close();
        let mut sink = PartSink::new(tx, permits, rt.handle().clone(), 5 << 20);
        let err = sink.write_all(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
