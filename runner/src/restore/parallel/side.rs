//! The server side of the parallel path: dropping what an interrupted run left behind,
//! creating the side database like the target, and the swap by renaming (one
//! transaction: both renames or neither).

use crate::error::Result;
use crate::pg::connect::{DbTarget, classify_error};
use crate::pg::globals;
use crate::pg::snapshot::quote_ident;
use crate::restore::parallel::names::Names;
use crate::restore::roles;
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

/// Creates the side database. When the target exists the side database takes the
/// target's own properties — owner, encoding, locale, its `ALTER DATABASE … SET` and
/// `ALTER ROLE … IN DATABASE … SET` settings, privileges, connection limit and comment —
/// so the swap keeps what a restore into the target keeps; otherwise the backup's (like a
/// database the single stream creates). Returns whether the target exists and whether
/// the backup's database settings were applied.
pub async fn create(
    maintenance: &Session,
    names: &Names,
    db: &DbTarget,
    backup: Option<&roles::Globals>,
) -> Result<(bool, bool)> {
    if !maintenance.database_exists(&names.target).await? {
        let settings = roles::create_database(maintenance, &names.side, backup).await?;
        tracing::info!(side = %names.side, target = %names.target,
            "side database created (the target does not exist)");
        return Ok((false, settings));
    }
    let own = {
        let target = Session::open(&db.with_database(&names.target)).await?;
        globals::capture(&target.client, &target.target).await?
    };
    let own = roles::Globals {
        pieces: globals::parse(&globals::render(&own))?,
    };
    roles::create_database(maintenance, &names.side, Some(&own)).await?;
    let carried = async {
        let statements = database_properties(maintenance, names).await?;
        for sql in &statements {
            maintenance.client.batch_execute(sql).await.map_err(|e| {
                classify_error(
                    &maintenance.target,
                    "carrying the target's privileges over",
                    e,
                )
            })?;
        }
        Ok::<_, crate::error::Error>(statements.len())
    }
    .await;
    let carried = match carried {
        Ok(n) => n,
        Err(e) => {
            let _ = maintenance.drop_database(&names.side).await;
            return Err(e);
        }
    };
    tracing::info!(side = %names.side, target = %names.target, privileges = carried,
        "side database created like the target (owner, locale, settings, privileges)");
    Ok((true, false))
}

/// The target's privileges, connection limit and comment, as statements on the side
/// database (quoted by the server's `format()`).
async fn database_properties(maintenance: &Session, names: &Names) -> Result<Vec<String>> {
    let row = maintenance
        .client
        .query_one(
            "SELECT d.datacl IS NOT NULL, \
                    ARRAY(SELECT pg_catalog.format('GRANT %s ON DATABASE %I TO %s%s', \
                        a.privilege_type, $2::text, \
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                             ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, \
                        CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) \
                      FROM pg_catalog.aclexplode(d.datacl) a ORDER BY 1), \
                    CASE WHEN d.datconnlimit <> -1 THEN pg_catalog.format( \
                        'ALTER DATABASE %I CONNECTION LIMIT %s', $2::text, d.datconnlimit) END, \
                    (SELECT pg_catalog.format('COMMENT ON DATABASE %I IS %L', $2::text, c.description) \
                       FROM pg_catalog.pg_shdescription c \
                      WHERE c.objoid = d.oid AND c.classoid = 'pg_catalog.pg_database'::regclass) \
               FROM pg_catalog.pg_database d WHERE d.datname = $1",
            &[&names.target, &names.side],
        )
        .await
        .map_err(|e| classify_error(&maintenance.target, "reading the target's privileges", e))?;
    let explicit: bool = row.get(0);
    let grants: Vec<String> = row.get(1);
    let mut out = Vec::new();
    if explicit {
        out.push(format!(
            "REVOKE ALL ON DATABASE {} FROM PUBLIC",
            quote_ident(&names.side)
        ));
        out.extend(grants);
    }
    out.extend(row.get::<_, Option<String>>(2));
    out.extend(row.get::<_, Option<String>>(3));
    Ok(out)
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

/// Ends the target's other sessions (a pooler, an exporter, a forgotten psql: the swap
/// cannot rename a database in use); returns how many. Sessions the restoring role may
/// not end are left, and the rename then fails as a whole.
pub async fn end_target_sessions(maintenance: &Session, target: &str) -> Result<i64> {
    let pids = maintenance
        .client
        .query(
            "SELECT pid FROM pg_catalog.pg_stat_activity \
              WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
            &[&target],
        )
        .await
        .map_err(|e| classify_error(&maintenance.target, "listing the target's sessions", e))?;
    let mut ended = 0;
    for row in pids {
        let pid: i32 = row.get(0);
        match maintenance
            .client
            .query_one("SELECT pg_catalog.pg_terminate_backend($1)", &[&pid])
            .await
        {
            Ok(r) if r.get::<_, bool>(0) => ended += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(pid, error = %e, "a session of the target could not be ended"),
        }
    }
    Ok(ended)
}

/// Puts the side database in the target's place, in one transaction; the target (when
/// it exists) takes the old name. The target's sessions are ended first; the rename
/// waits up to 5 s for them to go. Fails as a whole (the target then keeps its name and
/// content), for example while a session the role may not end is connected.
pub async fn swap(maintenance: &mut Session, names: &Names, target_exists: bool) -> Result<()> {
    let described = maintenance.target.clone();
    if target_exists {
        let ended = end_target_sessions(maintenance, &names.target).await?;
        if ended > 0 {
            tracing::warn!(target = %names.target, sessions = ended,
                "ended the sessions connected to the target database for the swap");
        }
    }
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

/// Why the parallel path cannot run for `target` with the restoring role, if it cannot:
/// it creates a database (`CREATEDB`) and renames the target (its owner). The caller
/// then restores with the single stream.
pub async fn why_not(maintenance: &Session, target: &str) -> Result<Option<String>> {
    let row = maintenance
        .client
        .query_one(
            "SELECT r.rolsuper, r.rolcreatedb, \
                    (SELECT pg_catalog.pg_has_role(d.datdba, 'USAGE') \
                       FROM pg_catalog.pg_database d WHERE d.datname = $1) \
               FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[&target],
        )
        .await
        .map_err(|e| {
            classify_error(
                &maintenance.target,
                "reading the restoring role's rights",
                e,
            )
        })?;
    let (superuser, createdb, owner): (bool, bool, Option<bool>) =
        (row.get(0), row.get(1), row.get(2));
    Ok(if superuser {
        None
    } else if !createdb {
        Some("the restoring role may not create databases (CREATEDB)".into())
    } else if owner == Some(false) {
        Some(format!(
            "the restoring role does not own database {target} (the swap renames it)"
        ))
    } else {
        None
    })
}
