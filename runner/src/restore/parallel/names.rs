//! Names of the parallel path's databases (pure): the side database a restore is built
//! in, the name the replaced database takes during the swap, and the pattern that finds
//! what an interrupted run left behind.

use crate::error::{Error, Result};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const MAX_NAME: usize = 63;

/// The marker between the target's name and the run's id.
const MARKER: &str = "__tidemark_";

/// The databases of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub target: String,
    /// Where the restore is built.
    pub side: String,
    /// The target's name during the swap, until it is dropped.
    pub old: String,
}

impl Names {
    /// The names for `target` and a run id (a few hex digits).
    pub fn new(target: &str, id: &str) -> Result<Self> {
        let old = format!("{target}{MARKER}old_{id}");
        if old.len() > MAX_NAME {
            return Err(Error::config(format!(
                "database name {target} is too long for a parallel restore (its side \
                 database {old} would exceed {MAX_NAME} bytes); use parallelism 1"
            )));
        }
        Ok(Self {
            target: target.to_string(),
            side: format!("{target}{MARKER}{id}"),
            old,
        })
    }

    /// `LIKE` pattern matching every side or old database of `target` (wildcards in the
    /// name escaped).
    pub fn leftover_pattern(target: &str) -> String {
        let escaped: String = format!("{target}{MARKER}")
            .chars()
            .flat_map(|c| match c {
                '\\' | '%' | '_' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("{escaped}%")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_target_and_fit_the_limit() {
        let n = Names::new("shop", "ab12cd34").unwrap();
        assert_eq!(n.side, "shop__tidemark_ab12cd34");
        assert_eq!(n.old, "shop__tidemark_old_ab12cd34");
        assert!(Names::new(&"x".repeat(45), "ab12cd34").is_err());
        assert!(Names::new(&"x".repeat(40), "ab12cd34").is_ok());
    }

    #[test]
    fn the_leftover_pattern_escapes_like_wildcards() {
        assert_eq!(
            Names::leftover_pattern("a_b%"),
            "a\\_b\\%\\_\\_tidemark\\_%"
        );
    }
}
