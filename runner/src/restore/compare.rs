//! Comparing restored row counts with the manifest, and the checks of the downloaded
//! object against its manifest. Pure.

use std::collections::BTreeMap;

use tidemark_crd::common::TableMismatch;
use tidemark_crd::contract::manifest::Manifest;
use tidemark_crd::contract::result::MAX_LISTED_MISMATCHES;

use crate::error::{Error, Result};
use crate::restore::stream::Hashed;

/// The outcome of a row-count comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// The first [`MAX_LISTED_MISMATCHES`] differing tables.
    pub listed: Vec<TableMismatch>,
    /// All differing tables.
    pub count: u32,
    pub compared: u32,
}

/// Compares `actual` with the manifest's counts for `tables`.
pub fn compare(
    expected: &BTreeMap<String, i64>,
    actual: &BTreeMap<String, i64>,
    tables: &[String],
) -> Comparison {
    let mut out = Comparison::default();
    for table in tables {
        let Some(&want) = expected.get(table) else {
            continue;
        };
        out.compared += 1;
        let got = actual.get(table).copied().unwrap_or(-1);
        if got != want {
            out.count += 1;
            if out.listed.len() < MAX_LISTED_MISMATCHES {
                out.listed.push(TableMismatch {
                    table: table.clone(),
                    expected: want,
                    actual: got,
                });
            }
        }
    }
    out
}

/// The error for a comparison with mismatches.
pub fn mismatch_error(c: &Comparison) -> Option<Error> {
    if c.count == 0 {
        return None;
    }
    let names: Vec<String> = c
        .listed
        .iter()
        .take(5)
        .map(|m| format!("{} ({} expected, {} found)", m.table, m.expected, m.actual))
        .collect();
    let more = if c.count as usize > names.len() {
        format!(" and {} more", c.count as usize - names.len())
    } else {
        String::new()
    };
    Some(Error::Check {
        reason: "RowCountMismatch",
        message: format!(
            "row counts differ from the manifest in {} of {} tables: {}{more}",
            c.count,
            c.compared,
            names.join(", ")
        ),
    })
}

/// The downloaded object must be exactly the one the manifest describes.
pub fn check_object(manifest: &Manifest, hashed: &Hashed) -> Result<()> {
    if hashed.stored_bytes != manifest.stored_size {
        return Err(Error::Check {
            reason: "SizeMismatch",
            message: format!(
                "backup {} has {} bytes, its manifest says {}; nothing was committed",
                manifest.key, hashed.stored_bytes, manifest.stored_size
            ),
        });
    }
    if !hashed.sha256.eq_ignore_ascii_case(&manifest.sha256) {
        return Err(Error::Check {
            reason: "ChecksumMismatch",
            message: format!(
                "SHA-256 of backup {} is {}, its manifest says {}; the restore was rolled \
                 back before committing",
                manifest.key, hashed.sha256, manifest.sha256
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: &[(&str, i64)]) -> BTreeMap<String, i64> {
        v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn mismatches_are_listed_up_to_the_limit_and_counted() {
        let n = MAX_LISTED_MISMATCHES + 5;
        let names: Vec<String> = (0..n).map(|i| format!("s.t{i:03}")).collect();
        let expected: BTreeMap<String, i64> = names.iter().map(|k| (k.clone(), 10)).collect();
        let actual: BTreeMap<String, i64> = names.iter().map(|k| (k.clone(), 9)).collect();
        let c = compare(&expected, &actual, &names);
        assert_eq!(c.count as usize, n);
        assert_eq!(c.listed.len(), MAX_LISTED_MISMATCHES);
        assert_eq!(c.compared as usize, n);
        let e = mismatch_error(&c)
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("s.t000 (10 expected, 9 found)"), "{e}");
        assert!(e.contains("and 20 more"), "{e}");
    }

    #[test]
    fn missing_tables_count_minus_one_and_unknown_ones_are_skipped() {
        let c = compare(
            &map(&[("a.x", 1), ("a.y", 2)]),
            &map(&[("a.x", 1)]),
            &["a.x".into(), "a.y".into(), "a.z".into()],
        );
        assert_eq!(c.compared, 2);
        assert_eq!(c.count, 1);
        assert_eq!(c.listed[0].actual, -1);
        assert!(
            mismatch_error(&compare(
                &map(&[("a.x", 1)]),
                &map(&[("a.x", 1)]),
                &["a.x".into()]
            ))
            .is_none()
        );
    }
}
