//! The preflight's check for a data-only restore: the target must hold every table the
//! restore writes (the selected ones, else every table of the backup). `restore
//! --preflight` reports what the target holds ([`crate::restore::preflight`]); for a
//! data-only restore this then fails with `TargetTablesMissing`, naming the tables,
//! before the operator stops any writer. A full restore needs no such check.

use std::collections::BTreeSet;

use tidemark_crd::contract::result::PreflightResult;
use tidemark_crd::contract::values::RestoreContent;

use crate::error::{Error, Result};
use crate::outcome::{self, Failure, Payload};
use crate::pg::connect::{DbTarget, classify_error};
use crate::restore::plan::TableName;
use crate::restore::settings::{self, Settings};
use crate::restore::target::Session;
use crate::signals::Shutdown;

/// Every table (ordinary or partitioned) of the target, as `schema.table`.
const PRESENT_TABLES: &str = "SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p')";

/// `restore --preflight`: the target's state, and for a data-only restore whether it
/// holds every table the restore would write.
pub async fn run(args: &Settings, shutdown: &Shutdown) -> outcome::Outcome {
    let found = match crate::restore::run(args, shutdown).await? {
        Payload::Preflight(found) => found,
        other => return Ok(other),
    };
    if args.options.content != RestoreContent::DataOnly {
        return Ok(Payload::Preflight(found));
    }
    match missing_in_target(args, &found, shutdown).await {
        Ok(missing) if missing.is_empty() => {
            tracing::info!(database = %found.database, "preflight: the target holds every table the data-only restore writes");
            Ok(Payload::Preflight(found))
        }
        Ok(missing) => Err(Failure::with(
            Error::TargetTablesMissing {
                database: found.database.clone(),
                exists: found.exists,
                shown: shown(&missing),
                count: missing.len(),
            },
            Payload::Preflight(found),
        )),
        Err(e) => Err(Failure::with(e, Payload::Preflight(found))),
    }
}

/// The tables of `wanted` the target lacks.
async fn missing_in_target(
    args: &Settings,
    found: &PreflightResult,
    shutdown: &Shutdown,
) -> Result<Vec<String>> {
    let wanted = written_tables(args, shutdown).await?;
    let present = if found.exists {
        present_tables(&DbTarget::resolve(&args.db)?).await?
    } else {
        BTreeSet::new()
    };
    Ok(missing(&wanted, &present))
}

/// The tables the restore writes: the selected ones, else every table of the backup.
async fn written_tables(args: &Settings, shutdown: &Shutdown) -> Result<Vec<String>> {
    let request = settings::request(&args.options)?;
    if !request.tables.is_empty() {
        return Ok(request.tables.iter().map(TableName::key).collect());
    }
    let store = crate::s3::client::connect(&args.s3).await?;
    let manifest = crate::restore::select(
        store.as_ref(),
        &args.s3,
        &args.policy,
        &args.selector,
        args.database.as_deref(),
        shutdown,
    )
    .await?;
    Ok(manifest.tables.keys().cloned().collect())
}

async fn present_tables(db: &DbTarget) -> Result<BTreeSet<String>> {
    let session = Session::open(db).await?;
    let rows = session
        .client
        .query(PRESENT_TABLES, &[])
        .await
        .map_err(|e| classify_error(&session.target, "listing the target's tables", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The entries of `wanted` not in `present`, sorted, each once.
pub fn missing(wanted: &[String], present: &BTreeSet<String>) -> Vec<String> {
    let wanted: BTreeSet<&String> = wanted.iter().collect();
    wanted
        .into_iter()
        .filter(|t| !present.contains(*t))
        .cloned()
        .collect()
}

/// Most missing tables named in the message (the report stays under 4 KiB).
const SHOWN: usize = 20;

/// The first [`SHOWN`] names, comma-separated, and how many more there are.
fn shown(missing: &[String]) -> String {
    let mut text = missing
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > SHOWN {
        text.push_str(&format!(" and {} more", missing.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tables_are_the_wanted_ones_the_target_lacks() {
        let present: BTreeSet<String> = ["public.a", "public.b"].map(String::from).into();
        let wanted = ["public.c", "public.a", "shop.b", "public.c"].map(String::from);
        assert_eq!(missing(&wanted, &present), ["public.c", "shop.b"]);
        assert!(missing(&["public.b".into()], &present).is_empty());
        let many: Vec<String> = (0..25).map(|i| format!("public.t{i:02}")).collect();
        let text = shown(&many);
        assert!(text.starts_with("public.t00, public.t01"), "{text}");
        assert!(text.ends_with("public.t19 and 5 more"), "{text}");
    }
}
