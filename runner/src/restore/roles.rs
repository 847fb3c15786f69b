//! The roles and database settings of a backup on the target server, decided before
//! anything changes: the backup's globals object ([`crate::backup::globals`]) is
//! downloaded, checked against its SHA-256, decrypted and decompressed, and the roles it
//! names are compared with the target's `pg_roles` ([`globals::plan_roles`]).
//!
//! - `require` (default): a missing role is a configuration error naming every missing
//!   role, before anything changed, unless owners and privileges are not restored.
//! - `create-missing`: only the missing roles are created (with their attributes,
//!   role-wide settings and memberships among the roles created), in one transaction
//!   just before the database restore; existing roles are never altered or dropped.
//!   Created roles stay when the restore that follows fails (they are global, and the
//!   restore's own transaction rolls back only the database).
//!
//! When the restore creates the database, it is created like the source's (owner,
//! encoding, locale, from `template0`) and its `ALTER DATABASE … SET` settings are
//! applied. When the target server lacks the locale (or the owner role, which a restore
//! without owners does not create) the database is created with the server's defaults
//! instead, with a warning.

use std::collections::BTreeSet;

use tidemark_crd::contract::manifest::{GlobalsObject, Manifest};
use tidemark_crd::contract::values::{RestoreContent, RoleHandling};

use crate::error::{Error, Result};
use crate::pg::globals::{self, Piece, RolePlan};
use crate::pg::snapshot::quote_ident;
use crate::pipeline::small;
use crate::restore::settings::RestoreOptions;
use crate::restore::target::Session;
use crate::s3::listing::{self, SmallObject};
use crate::s3::store::ObjectStore;

/// Largest globals object read (a script of role definitions is kilobytes).
const MAX_GLOBALS_BYTES: u64 = 64 << 20;

/// The backup's globals, read and checked.
#[derive(Clone, Debug, Default)]
pub struct Globals {
    pub pieces: Vec<Piece>,
}

/// What the restore does about roles, decided before anything changes.
#[derive(Clone, Debug)]
pub struct Decided {
    /// `None` for a backup without globals (made before they were saved).
    pub globals: Option<Globals>,
    pub roles: RolePlan,
}

/// Downloads and decodes the globals object `g` of `manifest`.
pub async fn read(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    g: &GlobalsObject,
    identities: &[age::x25519::Identity],
) -> Result<Globals> {
    let corrupt = |message: String| Error::Check {
        reason: "CorruptBackup",
        message,
    };
    let stored = match listing::get_small(store, &g.key, MAX_GLOBALS_BYTES).await? {
        SmallObject::Found(b) => b,
        SmallObject::Missing => {
            return Err(corrupt(format!("the globals object {} is missing", g.key)));
        }
        SmallObject::TooLarge(n) => {
            return Err(corrupt(format!(
                "the globals object {} has {n} bytes, more than a globals script can be",
                g.key
            )));
        }
    };
    let sha256 = small::sha256_hex(&stored);
    if sha256 != g.sha256.to_ascii_lowercase() {
        return Err(corrupt(format!(
            "the globals object {} has SHA-256 {sha256}, the manifest records {}",
            g.key, g.sha256
        )));
    }
    let identities = if manifest.is_encrypted() {
        identities
    } else {
        &[]
    };
    let raw = small::decode(
        &stored,
        manifest.compression,
        identities,
        "the globals object",
    )?;
    let script = String::from_utf8(raw)
        .map_err(|_| corrupt(format!("the globals object {} is not text", g.key)))?;
    Ok(Globals {
        pieces: globals::parse(&script)?,
    })
}

/// Whether a restore with these options needs the roles its objects refer to: not when
/// neither owners nor privileges are restored, nor for data only.
pub fn owners_needed(o: &RestoreOptions) -> bool {
    o.content != RestoreContent::DataOnly && !(o.no_owner && o.no_privileges)
}

/// Reads the globals (if the backup has them) and decides about the roles, against the
/// target server's roles. Changes nothing.
pub async fn decide(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    identities: &[age::x25519::Identity],
    maintenance: &Session,
    options: &RestoreOptions,
) -> Result<Decided> {
    let Some(g) = &manifest.globals else {
        return Ok(Decided {
            globals: None,
            roles: RolePlan {
                sql: String::new(),
                created: Vec::new(),
            },
        });
    };
    let read = read(store, manifest, g, identities).await?;
    let existing = existing_roles(maintenance).await?;
    let roles = globals::plan_roles(
        &read.pieces,
        &existing,
        options.roles == RoleHandling::CreateMissing,
        owners_needed(options),
    )?;
    Ok(Decided {
        globals: Some(read),
        roles,
    })
}

/// The role names of the target server.
async fn existing_roles(s: &Session) -> Result<BTreeSet<String>> {
    let rows = s
        .client
        .query("SELECT rolname::text FROM pg_catalog.pg_roles", &[])
        .await
        .map_err(|e| crate::pg::connect::classify_error(&s.target, "listing the roles of", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Creates the planned roles in one transaction; returns their names.
pub async fn create_roles(s: &Session, plan: &RolePlan) -> Result<Vec<String>> {
    if plan.created.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("BEGIN;\n{}COMMIT;", plan.sql);
    if let Err(e) = s.client.batch_execute(&sql).await {
        let _ = s.client.batch_execute("ROLLBACK").await;
        return Err(crate::pg::connect::classify_error(
            &s.target,
            "creating the missing roles on",
            e,
        ));
    }
    tracing::info!(roles = ?plan.created, "missing roles created");
    Ok(plan.created.clone())
}

/// The backup's `CREATE DATABASE` for `name`, if the globals have one.
pub fn create_statement(g: &Globals, name: &str) -> Option<String> {
    let piece = g.pieces.iter().find(|p| p.kind == "create-database")?;
    let sql = piece.sql.trim().strip_prefix("-- ")?.trim_end_matches(';');
    Some(sql.replace(":\"target\"", &quote_ident(name)))
}

/// The backup's database settings for `name`, one statement each.
pub fn settings_statements(g: &Globals, name: &str) -> Vec<String> {
    g.pieces
        .iter()
        .filter(|p| p.kind == "database-setting")
        .map(|p| {
            p.sql
                .trim()
                .trim_end_matches(';')
                .replace(":\"target\"", &quote_ident(name))
        })
        .collect()
}

/// SQLSTATEs of a `CREATE DATABASE` the server cannot do as the source had it: an
/// unknown role (42704), a locale it lacks (42809), an encoding that does not fit its
/// locales (22023), an owner the restoring role may not give the database to (42501).
const FALLBACK_STATES: [&str; 4] = ["42704", "42809", "22023", "42501"];

/// SQLSTATEs of a database setting that is skipped: a role the target lacks (42704), a
/// setting the restoring role may not make (42501).
const SKIPPED_SETTING_STATES: [&str; 2] = ["42704", "42501"];

/// Creates database `name` like the source's when the globals say how (else plainly);
/// returns whether all of the source's database settings were applied.
pub async fn create_database(s: &Session, name: &str, g: Option<&Globals>) -> Result<bool> {
    let Some(g) = g else {
        s.create_database(name).await?;
        return Ok(false);
    };
    match create_statement(g, name) {
        Some(sql) => match s.client.batch_execute(&sql).await {
            Ok(()) => {}
            Err(e)
                if e.as_db_error()
                    .is_some_and(|d| FALLBACK_STATES.contains(&d.code().code())) =>
            {
                let why = e.as_db_error().map(|d| d.message().to_string());
                tracing::warn!(database = %name, reason = ?why,
                    "the target server cannot create the database as the source had it \
                     (locale, encoding or owner); created with the server's defaults");
                s.create_database(name).await?;
            }
            Err(e) => {
                return Err(crate::pg::connect::classify_error(
                    &s.target,
                    &format!("creating database {name} on"),
                    e,
                ));
            }
        },
        None => s.create_database(name).await?,
    }
    let settings = settings_statements(g, name);
    let applied = apply_settings(s, name, &settings).await;
    if let Err(e) = applied {
        // The database is new and empty: it goes, and the restore stops.
        if let Err(d) = s.drop_database(name).await {
            tracing::warn!(database = %name, error = %d, "dropping the created database failed");
        }
        return Err(e);
    }
    applied
}

/// Applies the database's settings in one transaction. A setting of a role the target
/// lacks (a restore without owners does not create roles), or one the restoring role
/// may not make, is skipped with a warning; any other failure fails. Returns whether every setting was applied.
async fn apply_settings(s: &Session, name: &str, settings: &[String]) -> Result<bool> {
    if settings.is_empty() {
        return Ok(true);
    }
    let fail = |e: tokio_postgres::Error| {
        crate::pg::connect::classify_error(
            &s.target,
            &format!("applying the database settings of the backup to {name} on"),
            e,
        )
    };
    s.client.batch_execute("BEGIN").await.map_err(fail)?;
    let mut all = true;
    for statement in settings {
        let done = async {
            s.client.batch_execute("SAVEPOINT setting").await?;
            s.client.batch_execute(statement).await
        }
        .await;
        match done {
            Ok(()) => {}
            Err(e)
                if e.as_db_error()
                    .is_some_and(|d| SKIPPED_SETTING_STATES.contains(&d.code().code())) =>
            {
                tracing::warn!(database = %name, reason = %e,
                    "a database setting was skipped (a role the target lacks, or not allowed to the restoring role)");
                all = false;
                s.client
                    .batch_execute("ROLLBACK TO SAVEPOINT setting")
                    .await
                    .map_err(fail)?;
            }
            Err(e) => {
                let _ = s.client.batch_execute("ROLLBACK").await;
                return Err(fail(e));
            }
        }
    }
    s.client.batch_execute("COMMIT").await.map_err(fail)?;
    tracing::info!(database = %name, settings = settings.len(), all, "database settings applied");
    Ok(all)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Globals {
        let script = globals::render(&globals::Globals {
            database: "shop".into(),
            passwords: false,
            roles: vec![],
            memberships: vec![],
            create_database: "CREATE DATABASE :\"target\" WITH TEMPLATE template0 OWNER app \
                              ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                .into(),
            database_settings: vec![
                "ALTER DATABASE :\"target\" SET work_mem TO '8MB'".into(),
                "ALTER ROLE app IN DATABASE :\"target\" SET search_path TO 'a, b'".into(),
            ],
        });
        Globals {
            pieces: globals::parse(&script).unwrap(),
        }
    }

    #[test]
    fn the_database_statements_name_the_target() {
        let g = sample();
        assert_eq!(
            create_statement(&g, "new \"db\"").unwrap(),
            "CREATE DATABASE \"new \"\"db\"\"\" WITH TEMPLATE template0 OWNER app \
             ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        );
        assert_eq!(
            settings_statements(&g, "x"),
            vec![
                "ALTER DATABASE \"x\" SET work_mem TO '8MB'",
                "ALTER ROLE app IN DATABASE \"x\" SET search_path TO 'a, b'"
            ]
        );
    }

    #[test]
    fn roles_are_needed_unless_owners_and_privileges_are_skipped() {
        let mut o = RestoreOptions {
            content: RestoreContent::Full,
            tables: vec![],
            clean: false,
            no_clean: false,
            truncate: false,
            create_database: true,
            maintenance_database: "postgres".into(),
            no_owner: true,
            no_privileges: false,
            roles: RoleHandling::Require,
            parallelism: 1,
            spool_dir: std::path::PathBuf::from("/tmp"),
        };
        assert!(owners_needed(&o));
        o.no_privileges = true;
        assert!(!owners_needed(&o));
        o.no_owner = false;
        o.content = RestoreContent::DataOnly;
        assert!(!owners_needed(&o));
    }
}
