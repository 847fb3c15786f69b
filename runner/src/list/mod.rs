//! `list`: a policy's inventory — backups that have a manifest — printed on stdout as a
//! table for a person or (`--output json`) as one JSON array, before the report line.
//! The report carries a summary and, with `--key`/`--before` (or by default the newest),
//! the selected backup: this is how the operator resolves a restore source.
//! With retention flags the tiers that would keep each backup are shown.

pub mod render;

use std::io::Write;

use tidemark_crd::contract::result::{ListResult, ListedBackup, MAX_BROKEN_KEYS};

use crate::error::Error;
use chrono_tz::Tz;

use crate::inventory::{Entry, Inventory, PolicyRef, Selector};
use crate::outcome::{Failure, Outcome, Payload};
use crate::prune::summary::tier_name;
use crate::retention::RetentionPolicy;
use crate::s3::settings::S3Settings;
use render::Row;

/// Settings of `list`: the inventory, the backup a selector picks, and the tiers
/// retention would keep each backup by.
#[derive(Clone, Debug)]
pub struct Settings {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    pub selector: Selector,
    /// Select among the backups of this database only.
    pub database: Option<String>,
    pub retention: RetentionPolicy,
    /// The time zone retention periods are computed in.
    pub tz: Tz,
    pub output: Output,
}

/// How `list` prints the inventory on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

/// Runs `list`.
pub async fn run(args: &Settings) -> Outcome {
    let selector = &args.selector;
    let tz = args.tz;
    let store = crate::s3::client::connect(&args.s3).await?;
    let prefix = args.policy.prefix(&args.s3.prefix);
    let inventory = Inventory::load(store.as_ref(), &prefix).await?;

    let retention = (args.retention != RetentionPolicy::default())
        .then(|| inventory.retention_plan(&args.retention, tz));
    let rows: Vec<Row> = inventory
        .entries()
        .iter()
        .map(|e| {
            let tiers = retention.as_ref().map(|p| {
                p.tiers_of(&e.key)
                    .unwrap_or_default()
                    .iter()
                    .map(|t| tier_name(*t).to_string())
                    .collect()
            });
            Row::new(e, tiers)
        })
        .chain(inventory.broken().iter().map(Row::broken))
        .collect();
    let text = match args.output {
        Output::Table => render::table(&rows),
        Output::Json => render::json(&rows) + "\n",
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::stream("writing the inventory to stdout", e))?;
    drop(stdout);

    let mut result = summary(&inventory);
    // Without an explicit selector an empty inventory is just empty, not an error.
    if *selector == Selector::Latest && inventory.entries().is_empty() {
        return Ok(Payload::List(result));
    }
    match inventory.select_in(selector, args.database.as_deref()) {
        Ok(entry) => {
            result.selected = Some(listed(&entry));
            Ok(Payload::List(result))
        }
        // The newest backup of a run of several databases, and no database asked for:
        // listing is fine, nothing is selected.
        Err(Error::Config(_)) if *selector == Selector::Latest && args.database.is_none() => {
            Ok(Payload::List(result))
        }
        Err(e) => Err(Failure::with(e, Payload::List(result))),
    }
}

/// Counts, total size, oldest and newest completion.
fn summary(inventory: &Inventory) -> ListResult {
    let entries = inventory.entries();
    ListResult {
        count: count(entries.len()),
        total_stored_bytes: entries.iter().map(|e| e.manifest.stored_size).sum(),
        oldest: entries.first().map(|e| e.manifest.completed_at),
        newest: entries.last().map(|e| e.manifest.completed_at),
        selected: None,
        broken_count: count(inventory.broken().len()),
        broken: newest_keys(inventory.broken().iter().map(|b| b.entry.key.as_str())),
    }
}

/// A length as a report count (saturating).
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The last (newest, keys sort by time) [`MAX_BROKEN_KEYS`] of `keys`, newest first.
pub(crate) fn newest_keys<'a>(keys: impl DoubleEndedIterator<Item = &'a str>) -> Vec<String> {
    keys.rev()
        .take(MAX_BROKEN_KEYS)
        .map(str::to_string)
        .collect()
}

fn listed(entry: &Entry) -> ListedBackup {
    ListedBackup {
        key: entry.key.clone(),
        completed_at: entry.manifest.completed_at,
        stored_size: entry.manifest.stored_size,
        sha256: entry.manifest.sha256.clone(),
    }
}
