//! Payload of a `verify` report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The checks `verify` runs, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VerifyCheckName {
    /// The manifest object exists and parses.
    ManifestPresent,
    /// The backup object exists.
    ObjectPresent,
    /// The object's size equals the manifest's stored size.
    SizeMatches,
    /// The object is at least the configured minimum size.
    MinimumSize,
    /// The object is not much smaller than the previous backup's (at least
    /// (100 - max shrink percent)% of it).
    NotShrunk,
    /// SHA-256 recomputed from a streaming download equals the manifest's.
    ChecksumMatches,
    /// The backup completed within the configured maximum age.
    Fresh,
}

impl VerifyCheckName {
    /// All checks in the order they run.
    pub const ALL: [VerifyCheckName; 7] = [
        VerifyCheckName::ManifestPresent,
        VerifyCheckName::ObjectPresent,
        VerifyCheckName::SizeMatches,
        VerifyCheckName::MinimumSize,
        VerifyCheckName::ChecksumMatches,
        VerifyCheckName::Fresh,
        VerifyCheckName::NotShrunk,
    ];

    /// The name as it appears in reports and status.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCheckName::ManifestPresent => "ManifestPresent",
            VerifyCheckName::ObjectPresent => "ObjectPresent",
            VerifyCheckName::SizeMatches => "SizeMatches",
            VerifyCheckName::MinimumSize => "MinimumSize",
            VerifyCheckName::NotShrunk => "NotShrunk",
            VerifyCheckName::ChecksumMatches => "ChecksumMatches",
            VerifyCheckName::Fresh => "Fresh",
        }
    }
}

/// One named check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyCheck {
    pub name: VerifyCheckName,
    pub passed: bool,
    /// Why it failed, or what was measured (secret-free).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Every check `verify` ran on one backup. Present when a check failed too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    /// The verified backup's key (absent when no backup exists at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Checks in the order of [`VerifyCheckName::ALL`]; a check not reached is absent.
    pub checks: Vec<VerifyCheck>,
}

impl VerifyResult {
    /// True when every check ran and passed.
    pub fn passed(&self) -> bool {
        self.checks.len() == VerifyCheckName::ALL.len() && self.checks.iter().all(|c| c.passed)
    }
}
