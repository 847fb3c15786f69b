//! The SQL route's middle: `pg_restore -f -` writes SQL, this thread forwards it to
//! `psql --single-transaction` through the checksum gate, after an optional prefix
//! (`TRUNCATE …`), and releases the held-back end only on the orchestrator's verdict.
//! pg_restore may finish long before the object has been downloaded and hashed; psql
//! still cannot commit, because its input has not ended.

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
    verdict: std_mpsc::Receiver<Verdict>,
) -> Result<oneshot::Receiver<std::result::Result<(), String>>> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("restore-sql".into())
        .spawn(move || {
            let _ = tx.send(forward(from, to, &prefix, &verdict));
        })
        .map_err(|e| Error::Internal(format!("cannot start the SQL thread: {e}")))?;
    Ok(rx)
}

fn forward(
    mut from: ChildStdout,
    to: GatedStdin,
    prefix: &str,
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
        Ok(Verdict::Release) => {
            let stdin = gate
                .release()
                .map_err(|e| format!("writing the end to psql: {e}"))?;
            stdin
                .release()
                .map_err(|e| format!("closing psql's input: {e}"))
        }
        // Abort, or the orchestrator is gone: dropping the gate kills psql first.
        _ => Err("aborted".into()),
    }
}
