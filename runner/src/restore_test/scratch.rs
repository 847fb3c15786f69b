//! The scratch server of a restore test: waiting until it accepts connections, the
//! temporary database's name, and dropping it again.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::pg::connect::DbTarget;
use crate::restore::target::Session;
use crate::signals::Shutdown;
use tidemark_crd::contract::values::ScratchTarget;
use tidemark_crd::units::HumanDuration;

/// Default wait for an ephemeral (just started) server.
pub const EPHEMERAL_WAIT: Duration = Duration::from_secs(120);

/// Longest prefix: PostgreSQL names have 63 bytes, the random suffix takes 12.
const MAX_PREFIX: usize = 50;

/// How long to wait for the server: the setting, else 120 s for an ephemeral server and
/// no wait for an existing one.
pub fn wait_time(target: ScratchTarget, setting: Option<HumanDuration>) -> Duration {
    match (setting, target) {
        (Some(d), _) => d.0,
        (None, ScratchTarget::Ephemeral) => EPHEMERAL_WAIT,
        (None, ScratchTarget::Existing) => Duration::ZERO,
    }
}

/// The prefix must make a plain lower-case identifier.
pub fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX
        && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "TIDEMARK_SCRATCH_DATABASE_PREFIX `{prefix}` must be 1-{MAX_PREFIX} characters \
             of a-z, 0-9 and _, starting with a letter or _"
        )))
    }
}

/// Connects until the server answers, for up to `wait` (one attempt when zero).
pub async fn wait_for_server(server: &DbTarget, wait: Duration, shutdown: &Shutdown) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut stop = shutdown.clone();
    loop {
        let attempt = tokio::select! {
            s = Session::open(server) => s,
            sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
        };
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(if wait.is_zero() {
                    e
                } else {
                    Error::Postgres {
                        context: format!("waiting {}s for {}", wait.as_secs(), server.describe()),
                        message: format!("the scratch server did not accept connections: {e}"),
                    }
                });
            }
            Err(e) => tracing::info!(error = %e, "scratch server not ready yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            sig = stop.wait() => return Err(Error::RestoreInterrupted(sig)),
        }
    }
}

/// Drops the scratch database (ending any session still in it).
pub async fn drop_database(server: &DbTarget, name: &str) -> Result<()> {
    Session::open(server).await?.drop_database(name).await?;
    tracing::info!(database = %name, "scratch database dropped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_make_safe_identifiers() {
        assert!(check_prefix("tidemark_restore_test_").is_ok());
        for bad in ["", "Upper", "1abc", "a-b", "x\"; DROP", &"a".repeat(51)] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ephemeral_servers_are_waited_for_by_default() {
        assert_eq!(wait_time(ScratchTarget::Ephemeral, None), EPHEMERAL_WAIT);
        assert_eq!(wait_time(ScratchTarget::Existing, None), Duration::ZERO);
        let d = HumanDuration(Duration::from_secs(5));
        assert_eq!(
            wait_time(ScratchTarget::Existing, Some(d)),
            Duration::from_secs(5)
        );
    }
}
