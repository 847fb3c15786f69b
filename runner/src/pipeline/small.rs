//! Small objects (the globals script) in memory: the same compression and age
//! encryption as the stream, and back. Pure.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use tidemark_crd::contract::manifest::CompressionTag;
use tidemark_crd::contract::values::CompressionAlgorithm;

use crate::error::{Error, Result};
use crate::pipeline::stages::CompressionSpec;

/// The stored bytes of `raw`: compressed by `spec`, then encrypted to `recipients`
/// (none: not encrypted).
pub fn encode(
    raw: &[u8],
    spec: &CompressionSpec,
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>> {
    let level = spec.level.unwrap_or(0);
    let compressed = match spec.algorithm {
        CompressionAlgorithm::Zstd => zstd::stream::encode_all(raw, level)
            .map_err(|e| Error::stream("compressing the globals", e))?,
        CompressionAlgorithm::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(u32::try_from(level).unwrap_or(6)),
            );
            enc.write_all(raw)
                .and_then(|()| enc.finish())
                .map_err(|e| Error::stream("compressing the globals", e))?
        }
        CompressionAlgorithm::None => raw.to_vec(),
    };
    if recipients.is_empty() {
        return Ok(compressed);
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::Internal(format!("age encryption of the globals: {e}")))?;
    let mut out = Vec::with_capacity(compressed.len() + 256);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::stream("encrypting the globals", e))?;
    w.write_all(&compressed)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| Error::stream("encrypting the globals", e))?;
    Ok(out)
}

/// The raw bytes of a stored object written by [`encode`]: decrypted with `identities`
/// (empty: not encrypted), then decompressed. A damaged object is a `CorruptBackup`
/// check error; an identity that fits no recipient is a configuration error.
pub fn decode(
    stored: &[u8],
    compression: CompressionTag,
    identities: &[age::x25519::Identity],
    what: &str,
) -> Result<Vec<u8>> {
    let corrupt = |stage: &str, e: &dyn std::fmt::Display| Error::Check {
        reason: "CorruptBackup",
        message: format!("{stage} {what} failed: {e}"),
    };
    let decrypted = if identities.is_empty() {
        stored.to_vec()
    } else {
        let decryptor = age::Decryptor::new_buffered(stored).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => no_matching_key(what),
            other => corrupt("decrypting", &other),
        })?;
        let mut reader = decryptor
            .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => no_matching_key(what),
                other => corrupt("decrypting", &other),
            })?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .map_err(|e| corrupt("decrypting", &e))?;
        out
    };
    let mut out = Vec::new();
    match compression {
        CompressionTag::Zstd => {
            out = zstd::stream::decode_all(&decrypted[..])
                .map_err(|e| corrupt("decompressing", &e))?;
        }
        CompressionTag::Gzip => {
            flate2::read::MultiGzDecoder::new(&decrypted[..])
                .read_to_end(&mut out)
                .map_err(|e| corrupt("decompressing", &e))?;
        }
        CompressionTag::None => out = decrypted,
    }
    Ok(out)
}

fn no_matching_key(what: &str) -> Error {
    Error::config(format!(
        "TIDEMARK_AGE_IDENTITY does not match any recipient {what} is encrypted to (value \
         not shown); set the identity whose public key is listed in the manifest"
    ))
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_compression_with_and_without_age_round_trips() {
        let raw = b"CREATE ROLE app;\n".repeat(50);
        let id = age::x25519::Identity::generate();
        for (alg, tag) in [
            (CompressionAlgorithm::Zstd, CompressionTag::Zstd),
            (CompressionAlgorithm::Gzip, CompressionTag::Gzip),
            (CompressionAlgorithm::None, CompressionTag::None),
        ] {
            let spec = CompressionSpec::new(alg, None, Some(1)).unwrap();
            let plain = encode(&raw, &spec, &[]).unwrap();
            assert_eq!(decode(&plain, tag, &[], "x").unwrap(), raw);
            let sealed = encode(&raw, &spec, &[id.to_public()]).unwrap();
            assert!(sealed.starts_with(b"age-encryption.org/v1"));
            assert_eq!(
                decode(&sealed, tag, std::slice::from_ref(&id), "x").unwrap(),
                raw
            );
            let other = age::x25519::Identity::generate();
            let e = decode(&sealed, tag, &[other], "x").unwrap_err();
            assert!(e.to_string().contains("does not match"), "{e}");
        }
        let spec = CompressionSpec::new(CompressionAlgorithm::Zstd, None, Some(1)).unwrap();
        let mut damaged = encode(&raw, &spec, &[]).unwrap();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 0xff;
        damaged.truncate(mid + 1);
        assert!(decode(&damaged, CompressionTag::Zstd, &[], "x").is_err());
    }
}
