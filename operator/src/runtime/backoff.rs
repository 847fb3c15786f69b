//! Per-object retry delays after failed reconciles: exponential from 5 s to 5 min, reset
//! by a successful reconcile, so a persistent error never hot-loops.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// First retry delay.
pub const BASE: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const MAX: Duration = Duration::from_secs(300);

/// The delay after `failures` consecutive failures (1 = first failure).
pub fn delay(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    BASE.saturating_mul(1 << exp).min(MAX)
}

/// Consecutive failures per object key.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Counts a failure of `key` and returns the delay before the retry.
    pub fn failed(&self, key: &str) -> Duration {
        let mut map = match self.failures.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let n = map.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        delay(*n)
    }

    /// Forgets the failures of `key` after a success.
    pub fn succeeded(&self, key: &str) {
        let mut map = match self.failures.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps_and_resets() {
        let b = Backoff::default();
        assert_eq!(b.failed("a"), Duration::from_secs(5));
        assert_eq!(b.failed("a"), Duration::from_secs(10));
        assert_eq!(b.failed("b"), Duration::from_secs(5));
        for _ in 0..20 {
            b.failed("a");
        }
        assert_eq!(b.failed("a"), MAX);
        b.succeeded("a");
        assert_eq!(b.failed("a"), Duration::from_secs(5));
    }
}
