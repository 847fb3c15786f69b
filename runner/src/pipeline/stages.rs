//! The middle of the stream: compression (zstd with level and worker threads, gzip, or
//! none) followed by optional age encryption to X25519 recipients, both as `Write`
//! adaptors over the [`PartSink`]. Static dispatch, one thread, large buffers.

use std::io::{self, Write};
use std::str::FromStr;

use flate2::write::GzEncoder;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::pipeline::sink::PartSink;
use tidemark_crd::contract::values::CompressionAlgorithm;

/// Default zstd level (what `zstd` and the benchmark baseline use).
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;
/// zstd multi-threaded job size.
pub const ZSTD_JOB_SIZE: u32 = 1 << 20;
/// Default gzip level (what `gzip` uses).
pub const GZIP_DEFAULT_LEVEL: i32 = 6;

/// Compression choice with a validated level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressionSpec {
    pub algorithm: CompressionAlgorithm,
    pub level: Option<i32>,
    pub threads: u32,
}

impl CompressionSpec {
    /// Validates the level for the algorithm and fills in defaults.
    pub fn new(
        algorithm: CompressionAlgorithm,
        level: Option<i32>,
        threads: Option<u32>,
    ) -> Result<Self> {
        let level = match (algorithm, level) {
            (CompressionAlgorithm::Zstd, None) => Some(ZSTD_DEFAULT_LEVEL),
            (CompressionAlgorithm::Zstd, Some(l)) if (1..=19).contains(&l) => Some(l),
            (CompressionAlgorithm::Gzip, None) => Some(GZIP_DEFAULT_LEVEL),
            (CompressionAlgorithm::Gzip, Some(l)) if (0..=9).contains(&l) => Some(l),
            (CompressionAlgorithm::None, _) => None,
            (alg, Some(l)) => {
                return Err(Error::config(format!(
                    "compression level {l} is out of range for {alg:?} (zstd 1-19, gzip 0-9)"
                )));
            }
        };
        let threads = threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| u32::try_from(n.get()).unwrap_or(1))
                .unwrap_or(1)
        });
        Ok(Self {
            algorithm,
            level,
            threads: threads.min(64),
        })
    }
}

/// Parses age X25519 recipients separated by commas, newlines or spaces.
pub fn parse_recipients(list: &str) -> Result<Vec<age::x25519::Recipient>> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with('#'))
        .enumerate()
        .map(|(i, s)| age::x25519::Recipient::from_str(s).map_err(|_| unusable_recipient(i + 1, s)))
        .collect()
}

/// The error for entry `n` of the recipients that is no recipient. The value itself is
/// never shown (it may be a pasted secret): an age identity is named as such, anything
/// else by a short SHA-256 fingerprint so a person can tell which value it was.
fn unusable_recipient(n: usize, value: &str) -> Error {
    if value.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        return Error::config(format!(
            "TIDEMARK_AGE_RECIPIENTS entry {n} is an age identity (a secret key), not a \
             recipient: put its public key here (`age-keygen -y` prints it) and treat the \
             secret key as exposed to whoever could read this setting; the value is not shown"
        ));
    }
    let fingerprint = hex::encode(&sha2::Sha256::digest(value.as_bytes())[..4]);
    Error::config(format!(
        "TIDEMARK_AGE_RECIPIENTS entry {n} (sha256 {fingerprint}…, {} characters) is not an \
         age X25519 recipient (`age1…`); the value is not shown",
        value.chars().count()
    ))
}
/// Optional encryption over the sink.
pub enum Encrypt {
    Plain(PartSink),
    Age(age::stream::StreamWriter<PartSink>),
}

impl Encrypt {
    /// Wraps `sink`, writing the age header now when there are recipients.
    pub fn new(sink: PartSink, recipients: &[age::x25519::Recipient]) -> io::Result<Self> {
        if recipients.is_empty() {
            return Ok(Encrypt::Plain(sink));
        }
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(io::Error::other)?;
        Ok(Encrypt::Age(encryptor.wrap_output(sink)?))
    }

    /// Writes the final age chunk and returns the sink.
    pub fn finish(self) -> io::Result<PartSink> {
        match self {
            Encrypt::Plain(s) => Ok(s),
            Encrypt::Age(w) => w.finish(),
        }
    }
}

impl Write for Encrypt {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encrypt::Plain(s) => s.write(buf),
            Encrypt::Age(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encrypt::Plain(s) => s.write_all(buf),
            Encrypt::Age(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encrypt::Plain(s) => s.flush(),
            Encrypt::Age(w) => w.flush(),
        }
    }
}

/// Compression over the (optionally encrypting) writer.
pub enum Compress {
    Zstd(Box<zstd::stream::write::Encoder<'static, Encrypt>>),
    Gzip(GzEncoder<Encrypt>),
    None(Encrypt),
}

impl Compress {
    /// Wraps `inner` according to `spec`.
    pub fn new(inner: Encrypt, spec: &CompressionSpec) -> io::Result<Self> {
        let level = spec.level.unwrap_or(0);
        Ok(match spec.algorithm {
            CompressionAlgorithm::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(inner, level)?;
                if spec.threads > 0 {
                    enc.multithread(spec.threads)?;
                    // zstd's default job (4 × window) holds ~40 MiB of buffers with two
                    // workers; small jobs keep the runner's memory flat at a negligible
                    // cost in ratio.
                    enc.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))?;
                }
                Compress::Zstd(Box::new(enc))
            }
            CompressionAlgorithm::Gzip => Compress::Gzip(GzEncoder::new(
                inner,
                flate2::Compression::new(u32::try_from(level).unwrap_or(6)),
            )),
            CompressionAlgorithm::None => Compress::None(inner),
        })
    }

    /// Flushes the compressor's end and returns the inner writer.
    pub fn finish(self) -> io::Result<Encrypt> {
        match self {
            Compress::Zstd(e) => e.finish(),
            Compress::Gzip(e) => e.finish(),
            Compress::None(e) => Ok(e),
        }
    }
}

impl Write for Compress {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compress::Zstd(e) => e.write(buf),
            Compress::Gzip(e) => e.write(buf),
            Compress::None(e) => e.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Compress::Zstd(e) => e.write_all(buf),
            Compress::Gzip(e) => e.write_all(buf),
            Compress::None(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compress::Zstd(e) => e.flush(),
            Compress::Gzip(e) => e.flush(),
            Compress::None(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_validated_per_algorithm() {
        let z = CompressionSpec::new(CompressionAlgorithm::Zstd, None, Some(2));
        assert_eq!(z.ok().and_then(|s| s.level), Some(3));
        assert!(CompressionSpec::new(CompressionAlgorithm::Zstd, Some(25), None).is_err());
        assert!(CompressionSpec::new(CompressionAlgorithm::Gzip, Some(10), None).is_err());
        let g = CompressionSpec::new(CompressionAlgorithm::Gzip, Some(9), None);
        assert_eq!(g.ok().and_then(|s| s.level), Some(9));
        let n = CompressionSpec::new(CompressionAlgorithm::None, Some(99), None);
        assert_eq!(n.ok().and_then(|s| s.level), None);
    }

    #[test]
    fn recipients_split_on_commas_and_newlines() {
        let a = age::x25519::Identity::generate().to_public().to_string();
        let b = age::x25519::Identity::generate().to_public().to_string();
        let parsed = parse_recipients(&format!("{a},\n{b}\n"));
        assert_eq!(parsed.map(|v| v.len()).ok(), Some(2));
        assert!(parse_recipients("age1notakey").is_err());
        assert_eq!(parse_recipients("").map(|v| v.len()).ok(), Some(0));
    }

    #[test]
    fn a_pasted_identity_is_named_but_never_echoed() {
        use age::secrecy::ExposeSecret;
        let secret = age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string();
        let a = age::x25519::Identity::generate().to_public().to_string();
        for text in [format!("{a},{secret}"), secret.to_lowercase()] {
            let Err(e) = parse_recipients(&text) else {
                panic!("accepted an identity as recipient")
            };
            let message = e.to_string();
            assert!(message.contains("identity (a secret key)"), "{message}");
            assert!(!message.contains(&secret[15..]), "{message}");
            assert!(!message.to_uppercase().contains(&secret[15..]), "{message}");
        }
        let Err(e) = parse_recipients("age1-almost-but-not-a-key") else {
            panic!("accepted garbage")
        };
        assert!(!e.to_string().contains("almost"), "{e}");
        assert!(e.to_string().contains("sha256"), "{e}");
    }
}
