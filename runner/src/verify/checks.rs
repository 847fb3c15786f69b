//! The pure part of `verify`: turning measured values into named checks with messages.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tidemark_crd::contract::manifest::{GlobalsObject, Manifest};
use tidemark_crd::contract::result::{VerifyCheck, VerifyCheckName};

use tidemark_crd::units::ByteSize;
use tidemark_crd::units::HumanDuration;

fn check(name: VerifyCheckName, passed: bool, message: String) -> VerifyCheck {
    VerifyCheck {
        name,
        passed,
        message,
    }
}

/// ManifestPresent, passed: the manifest and what it records.
pub fn manifest_present(manifest_key: &str, manifest: &Manifest) -> VerifyCheck {
    check(
        VerifyCheckName::ManifestPresent,
        true,
        format!(
            "{manifest_key} (completed {})",
            manifest
                .completed_at
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    )
}

/// ManifestPresent, failed: why no manifest could be used.
pub fn manifest_missing(why: String) -> VerifyCheck {
    check(VerifyCheckName::ManifestPresent, false, why)
}

/// ObjectPresent from a HeadObject answer (`None`: the object does not exist).
pub fn object_present(key: &str, size: Option<u64>) -> VerifyCheck {
    match size {
        Some(size) => check(
            VerifyCheckName::ObjectPresent,
            true,
            format!("{size} bytes stored"),
        ),
        None => check(
            VerifyCheckName::ObjectPresent,
            false,
            format!("{key} does not exist"),
        ),
    }
}

/// SizeMatches: the stored size equals the manifest's.
pub fn size_matches(actual: u64, manifest: &Manifest) -> VerifyCheck {
    let expected = manifest.stored_size;
    if actual == expected {
        check(
            VerifyCheckName::SizeMatches,
            true,
            format!("{actual} bytes, as in the manifest"),
        )
    } else {
        check(
            VerifyCheckName::SizeMatches,
            false,
            format!("object has {actual} bytes, the manifest records {expected}"),
        )
    }
}

/// MinimumSize: the stored object is at least `minimum`.
pub fn minimum_size(actual: u64, minimum: ByteSize) -> VerifyCheck {
    let passed = actual >= minimum.0;
    let relation = if passed { "≥" } else { "<" };
    check(
        VerifyCheckName::MinimumSize,
        passed,
        format!("{actual} bytes {relation} minimum {} bytes", minimum.0),
    )
}

/// NotShrunk: `actual` is at least (100 - `max_shrink_percent`)% of the previous
/// backup's stored size (`previous`: its key and size; none: nothing to compare).
pub fn not_shrunk(
    actual: u64,
    previous: Option<(&str, u64)>,
    max_shrink_percent: u8,
) -> VerifyCheck {
    let Some((key, before)) = previous else {
        return check(
            VerifyCheckName::NotShrunk,
            true,
            "no previous backup to compare with".to_string(),
        );
    };
    let keep = u128::from(100 - max_shrink_percent.min(99));
    let passed = u128::from(actual) * 100 >= u128::from(before) * keep;
    let relation = if passed { "at least" } else { "less than" };
    check(
        VerifyCheckName::NotShrunk,
        passed,
        format!(
            "{actual} bytes is {relation} {keep}% of the previous backup {key} ({before} bytes)"
        ),
    )
}

/// ChecksumMatches: the SHA-256 computed from the download equals the manifest's.
pub fn checksum_matches(computed: &str, bytes_read: u64, manifest: &Manifest) -> VerifyCheck {
    let expected = manifest.sha256.to_ascii_lowercase();
    if computed == expected {
        check(
            VerifyCheckName::ChecksumMatches,
            true,
            format!("SHA-256 of {bytes_read} downloaded bytes matches"),
        )
    } else {
        check(
            VerifyCheckName::ChecksumMatches,
            false,
            format!(
                "SHA-256 of {bytes_read} downloaded bytes is {computed}, the manifest records {expected}"
            ),
        )
    }
}

/// One finding about the globals object ([`GlobalsObject`]) of a backup, folded into
/// the check of the same name about the data object ([`with_globals`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalsFinding {
    pub passed: bool,
    pub message: String,
}

/// The globals object's part of ObjectPresent (`None`: it does not exist).
pub fn globals_present(g: &GlobalsObject, size: Option<u64>) -> GlobalsFinding {
    match size {
        Some(size) => GlobalsFinding {
            passed: true,
            message: format!("globals object {size} bytes stored"),
        },
        None => GlobalsFinding {
            passed: false,
            message: format!("globals object {} does not exist", g.key),
        },
    }
}

/// The globals object's part of SizeMatches.
pub fn globals_size(g: &GlobalsObject, actual: u64) -> GlobalsFinding {
    GlobalsFinding {
        passed: actual == g.stored_size,
        message: if actual == g.stored_size {
            format!("globals object {actual} bytes, as in the manifest")
        } else {
            format!(
                "globals object has {actual} bytes, the manifest records {}",
                g.stored_size
            )
        },
    }
}

/// The globals object's part of ChecksumMatches.
pub fn globals_checksum(g: &GlobalsObject, computed: &str, bytes_read: u64) -> GlobalsFinding {
    let expected = g.sha256.to_ascii_lowercase();
    GlobalsFinding {
        passed: computed == expected,
        message: if computed == expected {
            format!("SHA-256 of the {bytes_read} bytes of the globals object matches")
        } else {
            format!(
                "SHA-256 of the {bytes_read} bytes of the globals object is {computed}, the \
                 manifest records {expected}"
            )
        },
    }
}

/// The check with the globals object's finding folded in: it passes when both pass.
pub fn with_globals(mut c: VerifyCheck, finding: Option<GlobalsFinding>) -> VerifyCheck {
    if let Some(f) = finding {
        c.passed = c.passed && f.passed;
        c.message = format!("{}; {}", c.message, f.message);
    }
    c
}

/// Fresh: the backup completed no longer than `max_age` before `now`.
pub fn fresh(completed_at: DateTime<Utc>, max_age: Duration, now: DateTime<Utc>) -> VerifyCheck {
    let age = now.signed_duration_since(completed_at);
    let limit = HumanDuration(max_age);
    match age.to_std() {
        // Completed "in the future": clock skew, certainly not stale.
        Err(_) => check(
            VerifyCheckName::Fresh,
            true,
            format!(
                "completed {} ahead of this clock",
                HumanDuration(age.abs().to_std().unwrap_or_default())
            ),
        ),
        Ok(age) => {
            let passed = age <= max_age;
            let relation = if passed { "≤" } else { ">" };
            check(
                VerifyCheckName::Fresh,
                passed,
                format!(
                    "completed {} ago {relation} maximum age {limit}",
                    HumanDuration(Duration::from_secs(age.as_secs()))
                ),
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_backup_less_than_half_the_previous_one_fails_not_shrunk() {
        assert!(not_shrunk(10, None, 50).passed);
        assert!(not_shrunk(500, Some(("k", 1000)), 50).passed);
        let c = not_shrunk(499, Some(("k", 1000)), 50);
        assert!(!c.passed);
        assert!(
            c.message.contains("less than 50% of the previous backup k"),
            "{}",
            c.message
        );
        assert!(not_shrunk(900, Some(("k", 1000)), 10).passed);
        assert!(!not_shrunk(899, Some(("k", 1000)), 10).passed);
        // Growing is always fine, whatever the size.
        assert!(not_shrunk(5_000, Some(("k", 1)), 50).passed);
    }

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).single().unwrap()
    }

    #[test]
    fn freshness_compares_the_age_with_the_limit() {
        let day = Duration::from_secs(86_400);
        let ok = fresh(at(1), day, at(20));
        assert!(ok.passed);
        assert_eq!(ok.message, "completed 19h ago ≤ maximum age 1d");
        let stale = fresh(at(1), Duration::from_secs(3600), at(3));
        assert!(!stale.passed);
        assert_eq!(stale.message, "completed 2h ago > maximum age 1h");
        assert!(fresh(at(5), Duration::ZERO, at(4)).passed);
    }

    #[test]
    fn a_globals_finding_fails_the_check_it_is_folded_into() {
        let g = GlobalsObject {
            key: "k.globals.sql".into(),
            stored_size: 10,
            raw_size: 10,
            sha256: "ab".into(),
            passwords: tidemark_crd::contract::manifest::PasswordsTag::Omitted,
            roles: vec![],
        };
        let passed = check(VerifyCheckName::SizeMatches, true, "data ok".into());
        let c = with_globals(passed.clone(), Some(globals_size(&g, 9)));
        assert!(!c.passed);
        assert!(
            c.message.contains("globals object has 9 bytes"),
            "{}",
            c.message
        );
        assert!(with_globals(passed.clone(), Some(globals_size(&g, 10))).passed);
        assert!(with_globals(passed.clone(), None).passed);
        assert!(!with_globals(passed.clone(), Some(globals_present(&g, None))).passed);
        assert!(!with_globals(passed, Some(globals_checksum(&g, "cd", 10))).passed);
    }

    #[test]
    fn minimum_size_is_inclusive() {
        assert!(minimum_size(1024, ByteSize(1024)).passed);
        let small = minimum_size(1023, ByteSize(1024));
        assert!(!small.passed);
        assert!(small.message.contains("1023 bytes < minimum 1024"));
    }
}
