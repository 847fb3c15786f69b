//! The upload pipeline against the in-memory store: the stream thread (compression,
//! encryption, hashing, part cutting) feeding the concurrent part uploads, completed or
//! aborted. The real-server tests under `runner/tests/` remain the proof against S3.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Read};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tidemark_crd::contract::values::CompressionAlgorithm;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};

use crate::error::Result;
use crate::pipeline::part_size::MIN_PART_SIZE;
use crate::pipeline::sink::PartSink;
use crate::pipeline::stages::CompressionSpec;
use crate::pipeline::stream::{self, StreamTotals};
use crate::s3::memory::MemoryStore;
use crate::s3::object::ObjectOptions;
use crate::s3::store::{PartReceipt, Store};
use crate::s3::upload::MultipartUpload;

const KEY: &str = "backups/shop/webshop/20260101T000000Z.dump.zst.age";

/// Incompressible bytes (xorshift), so the stored size is close to the input's.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Streams `input` through zstd and age into a multipart upload of 5 MiB parts, as
/// `backup` does; returns the stream's totals and the uploaded parts.
async fn stream_into(
    upload: &MultipartUpload,
    input: Vec<u8>,
    recipients: Vec<age::x25519::Recipient>,
) -> (Result<StreamTotals>, Result<Vec<PartReceipt>>) {
    let permits = Arc::new(Semaphore::new(3));
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = PartSink::new(tx, permits.clone(), Handle::current(), MIN_PART_SIZE);
    let spec = CompressionSpec::new(CompressionAlgorithm::Zstd, Some(1), Some(0)).unwrap();
    let handle = stream::spawn(Cursor::new(input), spec, recipients, sink, None).unwrap();
    let streamed = async { handle.done.await.unwrap() };
    tokio::join!(streamed, upload.upload_parts(rx, permits))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_of_several_parts_reassembles_byte_exact() {
    let memory = Arc::new(MemoryStore::new("b"));
    let store: Store = memory.clone();
    let identity = age::x25519::Identity::generate();
    let input = noise(12 << 20);
    let upload = MultipartUpload::create(&store, KEY, &ObjectOptions::default())
        .await
        .unwrap();
    let (totals, parts) = stream_into(&upload, input.clone(), vec![identity.to_public()]).await;
    let (totals, parts) = (totals.unwrap(), parts.unwrap());
    assert_eq!(totals.raw_bytes, input.len() as u64);
    assert_eq!(totals.stored.parts, 3, "12 MiB of noise in 5 MiB parts");
    assert_eq!(
        parts.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    upload.complete(parts, totals.stored.bytes).await.unwrap();

    assert_eq!(memory.open_uploads(), 0);
    assert_eq!(memory.keys(), vec![KEY.to_string()]);
    let stored = memory.object(KEY).unwrap().data;
    assert_eq!(stored.len() as u64, totals.stored.bytes);
    assert_eq!(hex::encode(Sha256::digest(&stored)), totals.stored.sha256);
    // Decrypting and decompressing what the store holds gives back every input byte.
    let decryptor = age::Decryptor::new_buffered(&stored[..]).unwrap();
    let decrypted = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap();
    let mut restored = Vec::new();
    zstd::stream::read::Decoder::new(decrypted)
        .unwrap()
        .read_to_end(&mut restored)
        .unwrap();
    assert!(restored == input, "the round trip changed the bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_part_stops_the_stream_and_the_abort_leaves_nothing() {
    let memory = Arc::new(MemoryStore::new("b"));
    let store: Store = memory.clone();
    let upload = MultipartUpload::create(&store, KEY, &ObjectOptions::default())
        .await
        .unwrap();
    // The second part's upload fails.
    memory.fail("UploadPart", 1);
    let (totals, parts) = stream_into(&upload, noise(24 << 20), Vec::new()).await;
    let err = parts.unwrap_err();
    assert!(err.to_string().contains("UploadPart"), "{err}");
    assert!(
        totals.is_err(),
        "the stream must stop when the upload fails"
    );
    assert_eq!(memory.open_uploads(), 1);
    upload.abort().await;
    assert_eq!(memory.open_uploads(), 0);
    assert!(memory.keys().is_empty(), "{:?}", memory.keys());
}

#[tokio::test]
async fn a_lost_completion_answer_counts_only_when_the_object_has_the_expected_size() {
    let memory = Arc::new(MemoryStore::new("b"));
    let store: Store = memory.clone();
    let upload = MultipartUpload::create(&store, KEY, &ObjectOptions::default())
        .await
        .unwrap();
    let receipt = store
        .upload_part(KEY, "upload-1", 1, bytes::Bytes::from_static(b"abc"))
        .await
        .unwrap();
    // The completion fails and nothing appeared: the error stands.
    memory.fail("CompleteMultipartUpload", 0);
    let err = upload.complete(vec![receipt.clone()], 3).await.unwrap_err();
    assert!(err.to_string().contains("CompleteMultipartUpload"), "{err}");
    assert!(memory.keys().is_empty());
    // An object of another size under the key does not count either.
    memory.insert(KEY, &b"abcd"[..], chrono::Utc::now());
    memory.fail("CompleteMultipartUpload", 0);
    assert!(upload.complete(vec![receipt.clone()], 3).await.is_err());
    // One with exactly the expected size does.
    memory.insert(KEY, &b"xyz"[..], chrono::Utc::now());
    memory.fail("CompleteMultipartUpload", 0);
    upload.complete(vec![receipt], 3).await.unwrap();
}
