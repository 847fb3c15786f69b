//! The SQL route's middle: `pg_restore -f -` writes SQL, this thread forwards it to
//! `psql --single-transaction` through the checksum gate, after an optional prefix
//! (dropping foreign keys, `TRUNCATE …`), and releases the held-back end only on the
//! orchestrator's verdict, followed by an optional suffix (adding the foreign keys back)
//! before psql's input ends. pg_restore may finish long before the object has been
//! downloaded and hashed; psql still cannot commit, because its input has not ended.
//! The suffix is written only after the release, so it never runs for a backup whose
//! checksum did not match.
//!
//! pg_restore runs with `--single-transaction`, so its SQL ends with its own `COMMIT`
//! followed only by comments; psql would commit there. The suffix is therefore spliced
//! in right before that last `COMMIT`, which is always within the held-back tail.

use std::io::Read;
use std::process::ChildStdout;
use std::sync::mpsc as std_mpsc;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::pg::child::GatedStdin;
use crate::restore::gate::{Gate, HOLD_BYTES};
use crate::restore::stream::Verdict;

const BLOCK: usize = 1 << 20;

/// Starts the forwarding thread; it reports when it released (Ok) or gave up (Err).
pub fn spawn(
    from: ChildStdout,
    to: GatedStdin,
    prefix: String,
    suffix: String,
    verdict: std_mpsc::Receiver<Verdict>,
) -> Result<oneshot::Receiver<std::result::Result<(), String>>> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("restore-sql".into())
        .spawn(move || {
            let _ = tx.send(forward(from, to, &prefix, &suffix, &verdict));
        })
        .map_err(|e| Error::Internal(format!("cannot start the SQL thread: {e}")))?;
    Ok(rx)
}

fn forward(
    mut from: ChildStdout,
    to: GatedStdin,
    prefix: &str,
    suffix: &str,
    verdict: &std_mpsc::Receiver<Verdict>,
) -> std::result::Result<(), String> {
    let mut gate = Gate::new(to, HOLD_BYTES);
    gate.write_prefix(prefix.as_bytes())
        .map_err(|e| format!("writing to psql: {e}"))?;
    let mut block = vec![0u8; BLOCK];
    loop {
        let mut filled = 0;
        while filled < BLOCK {
            match from.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading pg_restore's output: {e}")),
            }
        }
        if filled == 0 {
            break;
        }
        block.truncate(filled);
        let spare = gate
            .push(block)
            .map_err(|e| format!("psql stopped reading its input: {e}"))?;
        block = spare.unwrap_or_default();
        block.resize(BLOCK, 0);
    }
    match verdict.recv() {
        Ok(Verdict::Release) if suffix.is_empty() => {
            let stdin = gate
                .release()
                .map_err(|e| format!("writing the end to psql: {e}"))?;
            stdin
                .release()
                .map_err(|e| format!("closing psql's input: {e}"))
        }
        Ok(Verdict::Release) => {
            let (mut stdin, tail) = gate.into_tail();
            let Some(end) = splice_before_commit(&tail, suffix.as_bytes()) else {
                // Dropping stdin unreleased kills psql: nothing is committed.
                let message =
                    "pg_restore's SQL does not end with its COMMIT; nothing was committed";
                tracing::error!("{message}");
                return Err(message.into());
            };
            std::io::Write::write_all(&mut stdin, &end)
                .and_then(|()| std::io::Write::flush(&mut stdin))
                .map_err(|e| format!("writing the end to psql: {e}"))?;
            stdin
                .release()
                .map_err(|e| format!("closing psql's input: {e}"))
        }
        // Abort, or the orchestrator is gone: dropping the gate kills psql first.
        _ => Err("aborted".into()),
    }
}

/// `tail` (the end of pg_restore's SQL) with `suffix` inserted before its final
/// `COMMIT;` line — the last one followed only by blank lines, `--` comments and
/// psql's `\unrestrict` (written by pg_restore 17.6, 16.10, 15.14, … and later), which
/// cannot be inside `COPY` data (that ends with a `\.` line). `None` when there is none.
pub fn splice_before_commit(tail: &[u8], suffix: &[u8]) -> Option<Vec<u8>> {
    let mut end = tail.len();
    loop {
        // The line before `end` (without its newline).
        let body = tail[..end].strip_suffix(b"\n").unwrap_or(&tail[..end]);
        let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = &body[start..];
        if line == b"COMMIT;" {
            let mut out = Vec::with_capacity(tail.len() + suffix.len());
            out.extend_from_slice(&tail[..start]);
            out.extend_from_slice(suffix);
            out.extend_from_slice(&tail[start..]);
            return Some(out);
        }
        let trailer =
            line.is_empty() || line.starts_with(b"--") || line.starts_with(b"\\unrestrict ");
        if !trailer || start == 0 {
            return None;
        }
        end = start;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_goes_before_pg_restores_final_commit() {
        let tail = b"COPY t (a) FROM stdin;\nCOMMIT;\n\\.\n\n\
                     COMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
        let out = splice_before_commit(tail, b"ALTER TABLE x;\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "COPY t (a) FROM stdin;\nCOMMIT;\n\\.\n\n\
             ALTER TABLE x;\nCOMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
        );
        assert_eq!(
            splice_before_commit(b"COMMIT;\n", b"S;\n").unwrap(),
            b"S;\nCOMMIT;\n"
        );
        let tail =
            b"COMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n\n";
        let out = splice_before_commit(tail, b"S;\n").unwrap();
        assert!(out.starts_with(b"S;\nCOMMIT;\n") && out.ends_with(b"\\unrestrict k3y\n\n"));
    }

    #[test]
    fn without_a_final_commit_there_is_no_splice() {
        // A COMMIT inside COPY data is followed by the data's end marker.
        assert!(splice_before_commit(b"COPY t FROM stdin;\nCOMMIT;\n\\.\n", b"S").is_none());
        assert!(splice_before_commit(b"--\n-- done\n--\n", b"S").is_none());
        assert!(splice_before_commit(b"", b"S").is_none());
    }
}
