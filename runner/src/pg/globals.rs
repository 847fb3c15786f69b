//! The globals a database needs on a new server, read from the source's catalogs: the
//! roles it references (owners, grantees, role settings in the database, its owner),
//! their attributes, role-wide settings and memberships among them, passwords where the
//! backup role may read them, and the database's own settings and properties.
//!
//! The statements are built by the source server (`format` with `%I`/`%L`), so quoting
//! is PostgreSQL's own. [`render`] writes them as one psql script that a person can run
//! by hand (`psql -v target=<database> -f globals.sql`): each role is created only when
//! missing, never altered. Marker comments (`-- tidemark:<kind> <JSON name>`) let the
//! runner pick the pieces a restore needs ([`parse`]).

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::error::{Error, Result};

/// One role: how to create it (attributes, password) and its role-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    /// `CREATE ROLE … WITH …` (with `PASSWORD` when it was readable).
    pub create: String,
    /// `ALTER ROLE … SET …` statements.
    pub settings: Vec<String>,
}

/// A membership among the captured roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub member: String,
    pub group: String,
    /// `GRANT group TO member [WITH ADMIN OPTION]`.
    pub grant: String,
}

/// What a database needs beyond its dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Globals {
    /// Database the globals belong to.
    pub database: String,
    /// Whether the role passwords (their hashes) are included.
    pub passwords: bool,
    pub roles: Vec<Role>,
    pub memberships: Vec<Membership>,
    /// `CREATE DATABASE :"target" WITH OWNER … ENCODING … LC_COLLATE … LC_CTYPE …`.
    pub create_database: String,
    /// `ALTER DATABASE :"target" SET …` and `ALTER ROLE … IN DATABASE :"target" SET …`.
    pub database_settings: Vec<String>,
}

impl Globals {
    /// The names of the roles the database references.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.name.clone()).collect()
    }
}

/// The roles (other than the predefined `pg_*` ones) that objects of the current
/// database depend on (owner, privileges, policies: `pg_shdepend`), the database's
/// owner and the roles with settings in it.
const NEEDED_ROLES: &str = "\
WITH db AS (SELECT oid, datdba FROM pg_catalog.pg_database WHERE datname = current_database()) \
SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' AND r.oid IN ( \
  SELECT s.refobjid FROM pg_catalog.pg_shdepend s, db \
   WHERE s.dbid = db.oid AND s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass \
  UNION SELECT datdba FROM db \
  UNION SELECT st.setrole FROM pg_catalog.pg_db_role_setting st, db \
   WHERE st.setdatabase = db.oid AND st.setrole <> 0) \
ORDER BY 1";

const ROLE_CREATE: &str = "\
SELECT r.rolname, pg_catalog.format('CREATE ROLE %I WITH %s %s %s %s %s %s %s CONNECTION LIMIT %s%s', \
  r.rolname, \
  CASE WHEN r.rolsuper THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END, \
  CASE WHEN r.rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END, \
  CASE WHEN r.rolcreaterole THEN 'CREATEROLE' ELSE 'NOCREATEROLE' END, \
  CASE WHEN r.rolcreatedb THEN 'CREATEDB' ELSE 'NOCREATEDB' END, \
  CASE WHEN r.rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END, \
  CASE WHEN r.rolreplication THEN 'REPLICATION' ELSE 'NOREPLICATION' END, \
  CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END, \
  r.rolconnlimit, \
  CASE WHEN r.rolvaliduntil IS NOT NULL \
       THEN pg_catalog.format(' VALID UNTIL %L', r.rolvaliduntil) ELSE '' END) \
FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1) ORDER BY 1";

/// Only with `SELECT` on `pg_authid` (superusers): the password hashes.
const ROLE_PASSWORDS: &str = "\
SELECT rolname, pg_catalog.format(' PASSWORD %L', rolpassword) FROM pg_catalog.pg_authid \
WHERE rolname = ANY($1) AND rolpassword IS NOT NULL";

const CAN_READ_PASSWORDS: &str =
    "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')";

const ROLE_SETTINGS: &str = "\
SELECT r.rolname, pg_catalog.format('ALTER ROLE %I SET %s TO %L', r.rolname, \
  pg_catalog.split_part(c, '=', 1), pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1)) \
FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole, \
  LATERAL pg_catalog.unnest(s.setconfig) c \
WHERE s.setdatabase = 0 AND r.rolname = ANY($1) ORDER BY 1, 2";

const MEMBERSHIPS: &str = "\
SELECT m.rolname, g.rolname, pg_catalog.format('GRANT %I TO %I%s', g.rolname, m.rolname, \
  CASE WHEN a.admin_option THEN ' WITH ADMIN OPTION' ELSE '' END) \
FROM pg_catalog.pg_auth_members a \
JOIN pg_catalog.pg_roles g ON g.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member \
WHERE g.rolname = ANY($1) AND m.rolname = ANY($1) ORDER BY 1, 2";

/// `:"target"` is psql's quoted variable: the database the script is applied to.
const CREATE_DATABASE: &str = "\
SELECT pg_catalog.format('CREATE DATABASE :\"target\" WITH TEMPLATE template0 OWNER %I ENCODING %L LC_COLLATE %L LC_CTYPE %L', \
  pg_catalog.pg_get_userbyid(d.datdba), pg_catalog.pg_encoding_to_char(d.encoding), \
  d.datcollate, d.datctype) \
FROM pg_catalog.pg_database d WHERE d.datname = current_database()";

const DATABASE_SETTINGS: &str = "\
SELECT CASE WHEN s.setrole = 0 \
  THEN pg_catalog.format('ALTER DATABASE :\"target\" SET %s TO %L', \
       pg_catalog.split_part(c, '=', 1), pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1)) \
  ELSE pg_catalog.format('ALTER ROLE %I IN DATABASE :\"target\" SET %s TO %L', \
       pg_catalog.pg_get_userbyid(s.setrole), \
       pg_catalog.split_part(c, '=', 1), pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1)) END \
FROM pg_catalog.pg_db_role_setting s, LATERAL pg_catalog.unnest(s.setconfig) c \
WHERE s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
ORDER BY s.setrole, 1";

/// Reads the globals of the connected database.
pub async fn capture(client: &Client, describe: &str) -> Result<Globals> {
    let err = |doing: &'static str| {
        let d = describe.to_string();
        move |e| crate::pg::connect::classify_error(&d, doing, e)
    };
    let database: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .map_err(err("reading the database name"))?
        .get(0);
    let names: Vec<String> = client
        .query(NEEDED_ROLES, &[])
        .await
        .map_err(err("listing the roles the database references"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let passwords: bool = client
        .query_one(CAN_READ_PASSWORDS, &[])
        .await
        .map_err(err("checking access to role passwords"))?
        .get(0);
    let password_of: std::collections::BTreeMap<String, String> = if passwords {
        client
            .query(ROLE_PASSWORDS, &[&names])
            .await
            .map_err(err("reading role passwords"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    } else {
        Default::default()
    };
    let mut settings_of: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in client
        .query(ROLE_SETTINGS, &[&names])
        .await
        .map_err(err("reading role settings"))?
    {
        settings_of.entry(row.get(0)).or_default().push(row.get(1));
    }
    let roles = client
        .query(ROLE_CREATE, &[&names])
        .await
        .map_err(err("reading role attributes"))?
        .iter()
        .map(|row| {
            let name: String = row.get(0);
            let mut create: String = row.get(1);
            if let Some(password) = password_of.get(&name) {
                create.push_str(password);
            }
            Role {
                settings: settings_of.remove(&name).unwrap_or_default(),
                name,
                create,
            }
        })
        .collect();
    let memberships = client
        .query(MEMBERSHIPS, &[&names])
        .await
        .map_err(err("reading role memberships"))?
        .iter()
        .map(|row| Membership {
            member: row.get(0),
            group: row.get(1),
            grant: row.get(2),
        })
        .collect();
    let create_database: String = client
        .query_one(CREATE_DATABASE, &[])
        .await
        .map_err(err("reading the database's properties"))?
        .get(0);
    let database_settings = client
        .query(DATABASE_SETTINGS, &[])
        .await
        .map_err(err("reading the database's settings"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Globals {
        database,
        passwords,
        roles,
        memberships,
        create_database,
        database_settings,
    })
}

const MARK: &str = "-- tidemark:";

fn marker(kind: &str, name: &str) -> String {
    // A JSON string keeps any role name on one line.
    let quoted = serde_json::to_string(name).unwrap_or_else(|_| "\"?\"".to_string());
    format!("{MARK}{kind} {quoted}\n")
}

/// A dollar-quote tag that does not occur in `body`.
fn dollar_tag(body: &str) -> String {
    let mut tag = "$tidemark$".to_string();
    let mut n = 0u32;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$tidemark{n}$");
    }
    tag
}

/// One role's block: created with its settings only when no role of that name exists.
fn role_block(role: &Role) -> String {
    let mut body = format!("    {};\n", role.create);
    for s in &role.settings {
        body.push_str(&format!("    {s};\n"));
    }
    let tag = dollar_tag(&body);
    let literal = format!("'{}'", role.name.replace('\'', "''"));
    format!(
        "{}DO {tag}\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN\n{body}  END IF;\nEND\n{tag};\n",
        marker("role", &role.name)
    )
}

/// The psql script of the globals (see the module documentation).
pub fn render(g: &Globals) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "-- Globals of database {} written by Tidemark.\n\
         -- Role passwords: {}.\n\
         -- Apply with: psql -v ON_ERROR_STOP=1 -v target=<database> -f <this file>\n\
         -- Roles that exist are left as they are; missing ones are created.\n\
         -- The database itself: see the commented CREATE DATABASE below.\n\n",
        serde_json::to_string(&g.database).unwrap_or_default(),
        if g.passwords {
            "included (hashes from pg_authid)"
        } else {
            "not included (the backup role cannot read pg_authid): set them after restoring"
        }
    ));
    for role in &g.roles {
        out.push_str(&role_block(role));
    }
    for m in &g.memberships {
        out.push_str(&marker("member", &m.member));
        out.push_str(&format!("{};\n", m.grant));
    }
    out.push_str(&marker("create-database", &g.database));
    out.push_str(&format!("-- {};\n", g.create_database));
    for s in &g.database_settings {
        out.push_str(&marker("database-setting", &g.database));
        out.push_str(&format!("{s};\n"));
    }
    out
}

/// One marked piece of a globals script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// `role`, `member`, `create-database`, `database-setting`.
    pub kind: String,
    /// The role (for `role` and `member`) or the source database.
    pub name: String,
    /// The SQL up to the next marker.
    pub sql: String,
}

/// Splits a script written by [`render`] into its marked pieces.
pub fn parse(script: &str) -> Result<Vec<Piece>> {
    let mut pieces: Vec<Piece> = Vec::new();
    for line in script.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(MARK) {
            let (kind, name) = rest
                .trim_end()
                .split_once(' ')
                .ok_or_else(|| Error::config(format!("malformed globals marker: {line}")))?;
            let name: String = serde_json::from_str(name)
                .map_err(|e| Error::config(format!("malformed globals marker name: {e}")))?;
            pieces.push(Piece {
                kind: kind.to_string(),
                name,
                sql: String::new(),
            });
        } else if let Some(last) = pieces.last_mut() {
            last.sql.push_str(line);
        }
    }
    Ok(pieces)
}

/// What a restore does about the roles its database needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePlan {
    /// The SQL that creates the missing roles, their settings and the memberships of the
    /// roles it creates (empty when nothing is missing).
    pub sql: String,
    /// The roles it creates, in order.
    pub created: Vec<String>,
}

/// Decides, before anything changes, about the roles a restore needs (`pieces` of the
/// backup's globals) that the target server lacks (`existing` role names): create them
/// when `create` is set (never altering an existing one; memberships only for the roles
/// it creates), otherwise a configuration error naming them. Owners and privileges do
/// not need roles when the restore skips them (`owners_needed` false).
pub fn plan_roles(
    pieces: &[Piece],
    existing: &std::collections::BTreeSet<String>,
    create: bool,
    owners_needed: bool,
) -> Result<RolePlan> {
    let missing: Vec<&Piece> = pieces
        .iter()
        .filter(|p| p.kind == "role" && !existing.contains(&p.name))
        .collect();
    if missing.is_empty() || !owners_needed {
        return Ok(RolePlan {
            sql: String::new(),
            created: Vec::new(),
        });
    }
    let created: Vec<String> = missing.iter().map(|p| p.name.clone()).collect();
    if !create {
        return Err(Error::config(format!(
            "the target server lacks the role(s) {} that the backup's objects are owned by or \
             granted to; nothing was changed: allow creating them (target.roles: CreateMissing, \
             TIDEMARK_RESTORE_ROLES=create-missing) or restore without owners and privileges \
             (mode.noOwner and mode.noPrivileges)",
            created
                .iter()
                .map(|n| serde_json::to_string(n).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut sql: String = missing.iter().map(|p| p.sql.as_str()).collect();
    for p in pieces
        .iter()
        .filter(|p| p.kind == "member" && created.contains(&p.name))
    {
        sql.push_str(&p.sql);
    }
    Ok(RolePlan { sql, created })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sample() -> Globals {
        Globals {
            database: "shop".into(),
            passwords: true,
            roles: vec![
                Role {
                    name: "app owner".into(),
                    create:
                        "CREATE ROLE \"app owner\" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:x$y'"
                            .into(),
                    settings: vec!["ALTER ROLE \"app owner\" SET work_mem TO '8MB'".into()],
                },
                Role {
                    name: "o'brien".into(),
                    create: "CREATE ROLE \"o'brien\" WITH NOLOGIN -- $tidemark$".into(),
                    settings: vec![],
                },
            ],
            memberships: vec![Membership {
                member: "app owner".into(),
                group: "o'brien".into(),
                grant: "GRANT \"o'brien\" TO \"app owner\"".into(),
            }],
            create_database: "CREATE DATABASE :\"target\" WITH OWNER \"app owner\"".into(),
            database_settings: vec!["ALTER DATABASE :\"target\" SET timezone TO 'UTC'".into()],
        }
    }

    #[test]
    fn the_script_parses_back_into_its_pieces() {
        let g = sample();
        let script = render(&g);
        let pieces = parse(&script).unwrap();
        let kinds: Vec<(&str, &str)> = pieces
            .iter()
            .map(|p| (p.kind.as_str(), p.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("role", "app owner"),
                ("role", "o'brien"),
                ("member", "app owner"),
                ("create-database", "shop"),
                ("database-setting", "shop"),
            ]
        );
        assert!(pieces[0].sql.contains("SET work_mem TO '8MB'"));
        assert!(pieces[0].sql.contains("rolname = 'app owner'"));
        assert!(pieces[1].sql.contains("rolname = 'o''brien'"));
        // The body holds "$tidemark$": another tag quotes it.
        assert!(
            pieces[1].sql.starts_with("DO $tidemark1$"),
            "{}",
            pieces[1].sql
        );
        assert!(script.contains("Role passwords: included"));
    }

    fn names(list: &[&str]) -> std::collections::BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn missing_roles_are_created_or_named_before_anything_changes() {
        let pieces = parse(&render(&sample())).unwrap();
        // Both exist: nothing to do.
        let plan = plan_roles(&pieces, &names(&["app owner", "o'brien"]), false, true).unwrap();
        assert!(plan.created.is_empty() && plan.sql.is_empty());
        // One missing, creation allowed: only that one, with its membership.
        let plan = plan_roles(&pieces, &names(&["o'brien"]), true, true).unwrap();
        assert_eq!(plan.created, vec!["app owner"]);
        assert!(plan.sql.contains("CREATE ROLE \"app owner\""));
        assert!(!plan.sql.contains("CREATE ROLE \"o'brien\""));
        assert!(plan.sql.contains("GRANT \"o'brien\" TO \"app owner\""));
        // An existing member's memberships are left alone.
        let plan = plan_roles(&pieces, &names(&["app owner"]), true, true).unwrap();
        assert_eq!(plan.created, vec!["o'brien"]);
        assert!(!plan.sql.contains("GRANT"));
        // Not allowed: an error naming every missing role.
        let e = plan_roles(&pieces, &names(&[]), false, true).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("\"app owner\", \"o'brien\""), "{text}");
        assert!(text.contains("nothing was changed"), "{text}");
        // Without owners and privileges no role is needed.
        let plan = plan_roles(&pieces, &names(&[]), false, false).unwrap();
        assert!(plan.created.is_empty());
    }

    #[test]
    fn a_role_is_only_created_when_missing() {
        let block = role_block(&sample().roles[0]);
        let if_at = block.find("IF NOT EXISTS").unwrap();
        assert!(block.find("CREATE ROLE").unwrap() > if_at);
        assert!(block.find("ALTER ROLE").unwrap() > if_at);
        assert!(!block.contains("DROP"));
    }
}
