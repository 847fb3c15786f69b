//! The consistency anchor of a backup: a REPEATABLE READ transaction that exports its
//! snapshot for `pg_dump --snapshot` and counts rows inside the very same snapshot.
//! The transaction stays open until `pg_dump` has finished.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use tokio_postgres::Client;

use crate::error::Result;
use crate::pg::connect::{DbTarget, classify_error};
use crate::pg::filter::{TableFilter, TableRef};
use tidemark_crd::contract::values::RowCountMode;

/// How many count queries are pipelined on the one connection.
const COUNT_PIPELINE: usize = 8;

/// Facts about the source server.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub version: String,
    pub version_num: u32,
    pub database: String,
    /// `pg_database_size` of the database (bytes on disk), for choosing the part size.
    pub database_size: Option<u64>,
}

/// An open snapshot-exporting transaction.
pub struct SnapshotSession {
    client: Client,
    target: String,
    /// Snapshot id for `pg_dump --snapshot`.
    pub snapshot: String,
    pub server: ServerInfo,
}

const LIST_TABLES: &str = "\
SELECT n.nspname, c.relname, pg_catalog.pg_table_is_visible(c.oid), \
       GREATEST(c.reltuples, 0)::float8 \
FROM pg_catalog.pg_class c \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relkind = 'r' AND c.relpersistence <> 't' \
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                    AND d.objid = c.oid AND d.deptype = 'e') \
ORDER BY 1, 2";

impl SnapshotSession {
    /// Connects, starts the transaction and exports its snapshot.
    pub async fn open(target: &DbTarget) -> Result<Self> {
        let describe = target.describe();
        let client = target.connect().await?;
        let err = |doing: &str| {
            let d = describe.clone();
            let doing = doing.to_string();
            move |e| classify_error(&d, &doing, e)
        };
        client
            .batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                 SET LOCAL idle_in_transaction_session_timeout = 0; \
                 SET LOCAL statement_timeout = 0",
            )
            .await
            .map_err(err("starting the snapshot transaction"))?;
        let row = client
            .query_one(
                "SELECT pg_catalog.pg_export_snapshot(), \
                        pg_catalog.current_setting('server_version'), \
                        pg_catalog.current_setting('server_version_num')::int4, \
                        pg_catalog.current_database()::text, \
                        pg_catalog.pg_database_size(pg_catalog.current_database())::int8",
                &[],
            )
            .await
            .map_err(err("exporting the snapshot"))?;
        let version_num: i32 = row.get(2);
        Ok(Self {
            client,
            target: describe.clone(),
            snapshot: row.get(0),
            server: ServerInfo {
                version: row.get(1),
                version_num: u32::try_from(version_num).unwrap_or_default(),
                database: row.get(3),
                database_size: row
                    .get::<_, Option<i64>>(4)
                    .and_then(|n| u64::try_from(n).ok()),
            },
        })
    }

    /// The session's connection (inside the snapshot transaction), for catalog reads
    /// that must see the same moment as the dump.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connection's description for messages.
    pub fn describe(&self) -> &str {
        &self.target
    }

    /// Row counts per `schema.table` of the tables the dump holds.
    pub async fn row_counts(
        &self,
        filter: &TableFilter,
        mode: RowCountMode,
    ) -> Result<BTreeMap<String, i64>> {
        if mode == RowCountMode::Off {
            return Ok(BTreeMap::new());
        }
        let rows = self
            .client
            .query(LIST_TABLES, &[])
            .await
            .map_err(|e| classify_error(&self.target, "listing tables", e))?;
        let tables: Vec<(String, String, f64)> = rows
            .iter()
            .filter_map(|r| {
                let (schema, name): (String, String) = (r.get(0), r.get(1));
                let t = TableRef {
                    schema: &schema,
                    name: &name,
                    visible: r.get(2),
                };
                let keep = filter.includes(&t);
                keep.then(|| (schema, name, r.get::<_, f64>(3)))
            })
            .collect();
        if mode == RowCountMode::Estimate {
            return Ok(tables
                .into_iter()
                .map(|(s, n, est)| (format!("{s}.{n}"), est.round() as i64))
                .collect());
        }
        let client = &self.client;
        let target = &self.target;
        futures::stream::iter(tables)
            .map(|(schema, name, _)| async move {
                let sql = format!(
                    "SELECT count(*) FROM ONLY {}.{}",
                    quote_ident(&schema),
                    quote_ident(&name)
                );
                let row = client.query_one(&sql, &[]).await.map_err(|e| {
                    classify_error(target, &format!("counting rows of {schema}.{name}"), e)
                })?;
                Ok::<_, crate::error::Error>((format!("{schema}.{name}"), row.get::<_, i64>(0)))
            })
            .buffered(COUNT_PIPELINE)
            .try_collect()
            .await
    }

    /// Ends the (read-only) transaction.
    pub async fn close(self) {
        if let Err(e) = self.client.batch_execute("ROLLBACK").await {
            tracing::warn!(error = %e, "ending the snapshot transaction failed");
        }
    }
}

/// Quotes an SQL identifier (`"` doubled).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_safely() {
        assert_eq!(quote_ident("orders"), "\"orders\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
