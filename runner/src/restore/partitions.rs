//! Restoring in place over partitioned tables. `pg_restore --clean` drops each
//! partition's primary key, unique constraint or index on its own
//! (`ALTER TABLE ONLY part DROP CONSTRAINT part_pkey`), which PostgreSQL refuses while the
//! partition inherits it from its parent (`cannot drop inherited constraint`). So when
//! the target already holds partitioned tables whose leaf partitions the backup
//! restores, their top-level constraints and indexes are dropped first — in the same
//! transaction, through the SQL route's prefix — which removes the partitions' copies
//! with them; the backup then recreates everything. A failed restore rolls the drops
//! back with the rest.
//!
//! Only partitioned tables whose leaf partitions are in the manifest are touched: the
//! backup recreates exactly those. `CASCADE` also drops the foreign keys that reference
//! such a key, as `--clean` would have for the backup's own ones.

use tokio_postgres::Client;

use crate::error::Result;
use crate::pg::connect::classify_error;
use crate::restore::plan::Route;

/// The statements, one per row, for the partitioned tables whose leaves are in `$1`
/// (manifest keys `schema.table`).
const DROPS: &str = "\
WITH parents AS ( \
  SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c \
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
  WHERE c.relkind = 'p' AND NOT c.relispartition \
    AND EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(c.oid) t \
                JOIN pg_catalog.pg_class l ON l.oid = t.relid \
                JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace \
                WHERE t.isleaf AND ln.nspname || '.' || l.relname = ANY($1))) \
SELECT format('ALTER TABLE IF EXISTS %I.%I DROP CONSTRAINT IF EXISTS %I CASCADE;', \
              p.nspname, p.relname, k.conname) \
FROM parents p JOIN pg_catalog.pg_constraint k ON k.conrelid = p.oid \
WHERE k.contype IN ('p', 'u', 'f') AND k.conparentid = 0 \
UNION ALL \
SELECT format('DROP INDEX IF EXISTS %I.%I CASCADE;', p.nspname, i.relname) \
FROM parents p JOIN pg_catalog.pg_index x ON x.indrelid = p.oid \
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid \
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.oid \
                  AND k.conrelid = p.oid)";

/// The drop statements for the target behind `client` (empty when it has no such
/// partitioned tables). Servers before 12 have no `pg_partition_tree`: nothing.
pub async fn drops(
    client: &Client,
    target: &str,
    server_version_num: u32,
    manifest_tables: &[String],
) -> Result<String> {
    if server_version_num < 120_000 {
        return Ok(String::new());
    }
    let rows = client
        .query(DROPS, &[&manifest_tables])
        .await
        .map_err(|e| classify_error(target, "reading the partitioned tables", e))?;
    Ok(rows
        .iter()
        .map(|r| format!("{}\n", r.get::<_, String>(0)))
        .collect())
}

/// `route` with `drops` in front: the direct pg_restore route becomes the SQL route
/// (`pg_restore -f -` → psql), whose prefix runs in the restore's transaction.
pub fn with_drops(route: &Route, drops: &str, psql_args: Vec<String>) -> Route {
    if drops.is_empty() {
        return route.clone();
    }
    match route {
        Route::PgRestore { args } => Route::ViaSql {
            pg_restore_args: args
                .iter()
                .filter(|a| !a.starts_with("--dbname"))
                .cloned()
                .chain(std::iter::once("--file=-".to_string()))
                .collect(),
            psql_args,
            prefix: drops.to_string(),
            suffix: String::new(),
        },
        Route::ViaSql {
            pg_restore_args,
            psql_args,
            prefix,
            suffix,
        } => Route::ViaSql {
            pg_restore_args: pg_restore_args.clone(),
            psql_args: psql_args.clone(),
            prefix: format!("{drops}{prefix}"),
            suffix: suffix.clone(),
        },
        Route::Psql { .. } => route.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_route_becomes_the_sql_route_with_the_drops_first() {
        let direct = Route::PgRestore {
            args: vec![
                "--clean".into(),
                "--single-transaction".into(),
                "--dbname=".into(),
            ],
        };
        let drops = "ALTER TABLE IF EXISTS public.m DROP CONSTRAINT IF EXISTS m_pkey CASCADE;\n";
        let Route::ViaSql {
            pg_restore_args,
            prefix,
            suffix,
            ..
        } = with_drops(&direct, drops, vec!["--single-transaction".into()])
        else {
            panic!("not the SQL route")
        };
        assert_eq!(
            pg_restore_args,
            ["--clean", "--single-transaction", "--file=-"]
        );
        assert_eq!(prefix, drops);
        assert!(suffix.is_empty());
        assert_eq!(with_drops(&direct, "", vec![]), direct);
    }
}
