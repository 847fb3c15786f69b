//! How `list` prints the inventory: a table for a person, or one JSON array.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tidemark_crd::units::human_size;

use crate::inventory::{Broken, Entry};

/// One backup as printed by `list --output json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub key: String,
    pub manifest_key: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub stored_size: u64,
    pub raw_size: u64,
    pub sha256: String,
    pub database: String,
    /// The run of several databases the backup belongs to (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub total_rows: i64,
    pub encrypted: bool,
    /// Tiers that keep the backup (`newest`, `hourly`, …); absent without retention
    /// settings, empty when retention would delete it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<String>>,
    /// Set on a broken backup (manifest present, data missing or of another size):
    /// what is wrong. Broken backups are never restored nor counted by retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
}

impl Row {
    /// The row of `entry`, with the tiers retention keeps it by, if known.
    pub fn new(entry: &Entry, tiers: Option<Vec<String>>) -> Self {
        let m = &entry.manifest;
        Self {
            key: entry.key.clone(),
            manifest_key: entry.manifest_key.clone(),
            started_at: m.started_at,
            completed_at: m.completed_at,
            stored_size: m.stored_size,
            raw_size: m.raw_size,
            sha256: m.sha256.clone(),
            database: m.database.clone(),
            run: m.run.as_ref().map(|r| r.id.clone()),
            total_rows: m.total_rows(),
            encrypted: m.is_encrypted(),
            tiers,
            broken: None,
        }
    }

    /// The row of a broken backup.
    pub fn broken(broken: &Broken) -> Self {
        Self {
            broken: Some(broken.why.clone()),
            ..Self::new(&broken.entry, None)
        }
    }
}

/// The rows as one JSON array.
pub fn json(rows: &[Row]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_string())
}

/// The rows as an aligned text table, newest last; `RUN` and `DATABASE` columns when a
/// backup belongs to a run of several databases, a `TIERS` column when known. Broken
/// backups follow the table, each with what is wrong.
pub fn table(all: &[Row]) -> String {
    let rows: Vec<&Row> = all.iter().filter(|r| r.broken.is_none()).collect();
    let with_tiers = rows.iter().any(|r| r.tiers.is_some());
    let with_runs = rows.iter().any(|r| r.run.is_some());
    let mut header = vec!["KEY", "COMPLETED", "SIZE", "SHA256"];
    if with_runs {
        header.extend(["RUN", "DATABASE"]);
    }
    if with_tiers {
        header.push("TIERS");
    }
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in &rows {
        let mut line = vec![
            r.key.clone(),
            r.completed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            human_size(r.stored_size),
            r.sha256.chars().take(12).collect(),
        ];
        if with_runs {
            line.push(r.run.clone().unwrap_or_else(|| "-".to_string()));
            line.push(r.database.clone());
        }
        if with_tiers {
            let tiers = r.tiers.clone().unwrap_or_default();
            line.push(if tiers.is_empty() {
                "(delete)".to_string()
            } else {
                tiers.join(",")
            });
        }
        cells.push(line);
    }
    let columns = cells.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            cells
                .iter()
                .map(|l| l.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &cells {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            let width = widths.get(c).copied().unwrap_or(0);
            if c + 1 == line.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no backups)\n");
    }
    let broken: Vec<&Row> = all.iter().filter(|r| r.broken.is_some()).collect();
    if !broken.is_empty() {
        out.push_str("\nBROKEN (not restorable, in no retention tier, never deleted by prune):\n");
        for r in broken {
            let why = r.broken.as_deref().unwrap_or_default();
            let _ = writeln!(out, "{}  {why}", r.key);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_says_so() {
        let t = table(&[]);
        assert!(t.starts_with("KEY"));
        assert!(t.contains("(no backups)"));
    }
}
