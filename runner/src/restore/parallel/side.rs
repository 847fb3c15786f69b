//! The server side of the parallel path: dropping what an interrupted run left behind,
//! creating the side database like the target, and the swap by renaming (one
//! transaction: both renames or neither).

use crate::error::Result;
use crate::pg::connect::classify_error;
use crate::pg::snapshot::quote_ident;
use crate::restore::parallel::names::Names;
use crate::restore::target::Session;

/// Drops every side or old database of `target` an interrupted run left; returns their
/// names.
pub async fn drop_leftovers(maintenance: &Session, target: &str) -> Result<Vec<String>> {
    let rows = maintenance
        .client
        .query(
            "SELECT datname FROM pg_catalog.pg_database WHERE datname LIKE $1 ORDER BY 1",
            &[&Names::leftover_pattern(target)],
        )
        .await
        .map_err(|e| classify_error(&maintenance.target, "listing leftover databases", e))?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        maintenance.drop_database(&name).await?;
        tracing::warn!(database = %name,
            "dropped a side database an interrupted parallel restore left behind");
        dropped.push(name);
    }
    Ok(dropped)
}

/// Creates the side database from `template0`, with the target's owner, encoding and
/// locale when the target exists. Returns whether the target exists.
pub async fn create(maintenance: &Session, names: &Names) -> Result<bool> {
    let like = maintenance
        .client
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(datdba)::text, \
                    pg_catalog.pg_encoding_to_char(encoding)::text, \
                    datcollate::text, datctype::text \
               FROM pg_catalog.pg_database WHERE datname = $1",
            &[&names.target],
        )
        .await
        .map_err(|e| classify_error(&maintenance.target, "reading the target's settings", e))?;
    let mut sql = format!(
        "CREATE DATABASE {} TEMPLATE template0",
        quote_ident(&names.side)
    );
    if let Some(row) = &like {
        let (owner, encoding, collate, ctype): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        sql.push_str(&format!(
            " OWNER {} ENCODING {} LC_COLLATE {} LC_CTYPE {}",
            quote_ident(&owner),
            literal(&encoding),
            literal(&collate),
            literal(&ctype)
        ));
    }
    maintenance
        .client
        .batch_execute(&sql)
        .await
        .map_err(|e| classify_error(&maintenance.target, "creating the side database", e))?;
    tracing::info!(side = %names.side, target = %names.target, "side database created");
    Ok(like.is_some())
}

/// Ends the sessions still connected to the side database (never the target's).
pub async fn end_side_sessions(maintenance: &Session, side: &str) -> Result<()> {
    maintenance
        .client
        .execute(
            "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
              WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
            &[&side],
        )
        .await
        .map_err(|e| {
            classify_error(
                &maintenance.target,
                "ending the side database's sessions",
                e,
            )
        })?;
    Ok(())
}

/// Puts the side database in the target's place, in one transaction; the target (when
/// it exists) takes the old name. Fails as a whole (the target then keeps its name and
/// content), for example while sessions are connected to the target.
pub async fn swap(maintenance: &mut Session, names: &Names, target_exists: bool) -> Result<()> {
    let described = maintenance.target.clone();
    let tx = maintenance
        .client
        .transaction()
        .await
        .map_err(|e| classify_error(&described, "starting the swap", e))?;
    if target_exists {
        tx.batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&names.target),
            quote_ident(&names.old)
        ))
        .await
        .map_err(|e| classify_error(&described, "renaming the target aside", e))?;
    }
    tx.batch_execute(&format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(&names.side),
        quote_ident(&names.target)
    ))
    .await
    .map_err(|e| classify_error(&described, "renaming the side database to the target", e))?;
    tx.commit()
        .await
        .map_err(|e| classify_error(&described, "committing the swap", e))
}

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
