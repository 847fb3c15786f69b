//! The target database side of a restore: server version, existence and creation of the
//! database, whether it is empty, ending the sessions of a killed tool, dropping a
//! database, the foreign keys a data-only restore sets aside, and the row counts taken
//! after the restore (plain `count(*)` per table, quoted identifiers, pipelined on one
//! connection).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::pg::connect::{DbTarget, classify_error};
use crate::pg::snapshot::quote_ident;
use crate::restore::foreign_keys::ForeignKey;
use crate::restore::plan::ForeignKeyScope;

/// How many count queries are pipelined on the one connection.
const COUNT_PIPELINE: usize = 8;

/// A connection with its description for messages.
pub struct Session {
    pub client: Client,
    pub target: String,
}

impl Session {
    /// Connects to `db`.
    pub async fn open(db: &DbTarget) -> Result<Self> {
        Ok(Self {
            client: db.connect().await?,
            target: db.describe(),
        })
    }

    fn err(&self, doing: &str) -> impl FnOnce(tokio_postgres::Error) -> Error + '_ {
        let doing = doing.to_string();
        move |e| classify_error(&self.target, &doing, e)
    }

    /// `server_version_num`.
    pub async fn server_version_num(&self) -> Result<u32> {
        let row = self
            .client
            .query_one("SELECT current_setting('server_version_num')::int4", &[])
            .await
            .map_err(self.err("reading server_version_num"))?;
        Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or_default())
    }

    /// Whether database `name` exists.
    pub async fn database_exists(&self, name: &str) -> Result<bool> {
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)",
                &[&name],
            )
            .await
            .map_err(self.err("looking up the database"))?;
        Ok(row.get(0))
    }

    /// `CREATE DATABASE name`.
    pub async fn create_database(&self, name: &str) -> Result<()> {
        self.client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(name)))
            .await
            .map_err(self.err(&format!("creating database {name}")))
    }

    /// Drops database `name`, ending its sessions first (PostgreSQL 13+: `WITH (FORCE)`).
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        let force = self.server_version_num().await? >= 130_000;
        let sql = format!(
            "DROP DATABASE IF EXISTS {}{}",
            quote_ident(name),
            if force { " WITH (FORCE)" } else { "" }
        );
        let mut last = None;
        for _ in 0..20 {
            match self.client.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                // Older servers: a session of the killed tool may still be ending.
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        match last {
            Some(e) => Err(classify_error(
                &self.target,
                &format!("dropping database {name}"),
                e,
            )),
            None => Ok(()),
        }
    }

    /// User objects (relations, user schemas other than `public`, extensions other than
    /// plpgsql) in the connected database.
    pub async fn user_objects(&self) -> Result<i64> {
        let row = self
            .client
            .query_one(
                "SELECT \
                   (SELECT count(*) FROM pg_catalog.pg_class c \
                      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%') \
                 + (SELECT count(*) FROM pg_catalog.pg_namespace \
                     WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') \
                       AND nspname NOT LIKE 'pg\\_%') \
                 + (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')",
                &[],
            )
            .await
            .map_err(self.err("checking whether the database is empty"))?;
        Ok(row.get(0))
    }

    /// Terminates the sessions whose `application_name` is `app` (a killed tool's
    /// backend, so its transaction is rolled back now rather than when the server next
    /// notices the closed socket), and waits until they are gone.
    pub async fn end_sessions(&self, app: &str) {
        for _ in 0..100 {
            let result = self
                .client
                .query_one(
                    "SELECT count(pg_catalog.pg_terminate_backend(pid)) \
                       FROM pg_catalog.pg_stat_activity \
                      WHERE application_name = $1 AND pid <> pg_catalog.pg_backend_pid()",
                    &[&app],
                )
                .await;
            match result {
                Ok(row) if row.get::<_, i64>(0) == 0 => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "ending the restore's session failed");
                    return;
                }
            }
        }
        tracing::warn!(
            application_name = app,
            "the restore's session did not end in time"
        );
    }

    /// The foreign keys on or referencing the tables of `scope` (for partitions, also
    /// those of their partitioned ancestors, where the constraints are declared), each
    /// once, with definitions that qualify every name (read with an empty
    /// `search_path`, as pg_dump does). Constraints a partition inherits are left out:
    /// they go and come back with their parent's.
    pub async fn foreign_keys(
        &self,
        scope: &ForeignKeyScope,
        server_version_num: u32,
    ) -> Result<Vec<ForeignKey>> {
        self.client
            .batch_execute("SELECT pg_catalog.set_config('search_path', '', false)")
            .await
            .map_err(self.err("clearing search_path"))?;
        let (tables, all) = match scope {
            ForeignKeyScope::Tables(t) => (t.clone(), false),
            ForeignKeyScope::Database => (Vec::new(), true),
        };
        // conparentid (PostgreSQL 11+) links a partition's copy to its parent's.
        let own = if server_version_num >= 110_000 {
            "AND con.conparentid = 0"
        } else {
            ""
        };
        let sql = format!(
            "WITH RECURSIVE restored(oid) AS ( \
               SELECT c.oid FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) \
               UNION \
               SELECT i.inhparent FROM pg_catalog.pg_inherits i \
                 JOIN restored r ON i.inhrelid = r.oid \
                 JOIN pg_catalog.pg_class p ON p.oid = i.inhparent \
                WHERE p.relkind = 'p' \
             ) \
             SELECT n.nspname::text, c.relname::text, con.conname::text, \
                    pg_catalog.pg_get_constraintdef(con.oid) \
               FROM pg_catalog.pg_constraint con \
               JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
              WHERE con.contype = 'f' {own} \
                AND ($2::bool \
                     OR con.conrelid IN (SELECT oid FROM restored) \
                     OR con.confrelid IN (SELECT oid FROM restored)) \
              ORDER BY 1, 2, 3"
        );
        let rows = self
            .client
            .query(&sql, &[&tables, &all])
            .await
            .map_err(self.err("listing the foreign keys of the restored tables"))?;
        Ok(rows
            .iter()
            .map(|r| ForeignKey {
                schema: r.get(0),
                table: r.get(1),
                name: r.get(2),
                definition: r.get(3),
            })
            .collect())
    }

    /// Row counts of `tables` (manifest keys `schema.table`), resolved against the
    /// catalog; a table that does not exist counts `-1`.
    pub async fn row_counts(&self, tables: &[String]) -> Result<BTreeMap<String, i64>> {
        let rows = self
            .client
            .query(
                "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                  WHERE c.relkind IN ('r', 'p')",
                &[],
            )
            .await
            .map_err(self.err("listing tables"))?;
        let catalog: BTreeMap<String, (String, String)> = rows
            .iter()
            .map(|r| {
                let (s, n): (String, String) = (r.get(0), r.get(1));
                (format!("{s}.{n}"), (s, n))
            })
            .collect();
        let client = &self.client;
        let target = &self.target;
        futures::stream::iter(tables.iter())
            .map(|key| {
                let found = catalog.get(key).cloned();
                async move {
                    let Some((schema, name)) = found else {
                        return Ok((key.clone(), -1));
                    };
                    let sql = format!(
                        "SELECT count(*) FROM ONLY {}.{}",
                        quote_ident(&schema),
                        quote_ident(&name)
                    );
                    let row = client.query_one(&sql, &[]).await.map_err(|e| {
                        classify_error(target, &format!("counting rows of {key}"), e)
                    })?;
                    Ok::<_, Error>((key.clone(), row.get::<_, i64>(0)))
                }
            })
            .buffered(COUNT_PIPELINE)
            .try_collect()
            .await
    }
}
