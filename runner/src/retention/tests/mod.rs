//! Unit tests of the retention module: concrete calendars and cleanup cases.

mod calendar;
mod cleanup;

use chrono::{DateTime, Utc};

use super::Backup;

/// An instant from RFC 3339 text.
fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid RFC 3339 time")
        .with_timezone(&Utc)
}

/// A backup completed at `completed` whose key follows the object key layout.
fn backup(completed: DateTime<Utc>) -> Backup {
    Backup::new(key_of(completed), completed)
}

/// The data object key of a backup completed at `completed`.
fn key_of(completed: DateTime<Utc>) -> String {
    format!(
        "backups/shop/webshop/{}.dump.zst",
        completed.format("%Y%m%dT%H%M%SZ")
    )
}
