//! Restore onto a new, empty, newer server (PostgreSQL 15 → 18) that lacks the roles the
//! backup's objects are owned by and granted to: `require` fails naming them and
//! changes nothing; without owners and privileges the restore needs no roles;
//! `create-missing` creates exactly the missing roles (reported), and ownership, grants,
//! memberships and the database's settings match the source; a restoring role that is
//! no superuser gets the database with the server's defaults and the settings it may make.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use tidemark_testkit::postgres::{TestPostgres, majors_root};

const ROLES: &str = "\
SELECT rolname, rolcanlogin, rolinherit, rolconnlimit FROM pg_roles \
WHERE rolname IN ('app_owner', 'reporting', 'Batch Job', 'unrelated') ORDER BY 1";

const MEMBERS: &str = "\
SELECT g.rolname || '>' || m.rolname FROM pg_auth_members a \
JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
WHERE m.rolname IN ('app_owner', 'reporting', 'Batch Job') ORDER BY 1";

/// Owners and grants (MAINTAIN, new in 17, is left out: 15 has no such privilege).
const OWNERS_AND_GRANTS: &str = "\
SELECT c.relname || ':' || pg_get_userbyid(c.relowner) FROM pg_class c \
JOIN pg_namespace n ON n.oid = c.relnamespace \
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') \
UNION ALL SELECT table_name || ':' || grantor || '>' || grantee || ':' || privilege_type \
FROM information_schema.table_privileges WHERE table_schema = 'public' \
AND privilege_type <> 'MAINTAIN' ORDER BY 1";

fn settings_of(pg: &TestPostgres, db: &str) -> String {
    pg.psql(
        db,
        &format!(
            "SELECT coalesce(pg_get_userbyid(nullif(setrole, 0)), '-') || ' ' || \
             array_to_string(setconfig, ',') FROM pg_db_role_setting s \
             JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '{db}' ORDER BY 1"
        ),
    )
    .unwrap()
}

fn setup_source(pg: &TestPostgres) {
    pg.psql(
        "postgres",
        "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw' CONNECTION LIMIT 20; \
         CREATE ROLE reporting NOLOGIN; \
         CREATE ROLE \"Batch Job\" LOGIN NOINHERIT; \
         CREATE ROLE unrelated LOGIN; \
         GRANT reporting TO app_owner; \
         ALTER DATABASE shop OWNER TO app_owner; \
         ALTER DATABASE shop SET work_mem TO '12MB'; \
         ALTER ROLE \"Batch Job\" IN DATABASE shop SET statement_timeout TO '7s'",
    )
    .unwrap();
    pg.psql(
        SOURCE_DB,
        "SET ROLE app_owner; \
         CREATE TABLE orders (id serial PRIMARY KEY, total numeric); \
         INSERT INTO orders (total) SELECT g * 1.5 FROM generate_series(1, 40) g; \
         GRANT SELECT ON orders TO reporting; \
         GRANT INSERT ON orders TO \"Batch Job\"",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_without_the_roles_gets_them_only_when_allowed() {
    let started = std::time::Instant::now();
    let fx = Fixture::seaweed().await;
    setup_source(&fx.pg);
    let (identity, recipient) = age_keypair();
    let out = fx
        .backup(&[("TIDEMARK_AGE_RECIPIENTS", recipient.as_str())])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let target = TestPostgres::start_major(18).unwrap();
    let secret = {
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_string()
    };
    let restore = |db: &str, extra: &[(&str, &str)]| {
        let mut env = target.env(db);
        env.push((
            "TIDEMARK_PG_BIN_ROOT".into(),
            majors_root().unwrap().display().to_string(),
        ));
        env.push(("TIDEMARK_AGE_IDENTITY".into(), secret.clone()));
        env.push(("TIDEMARK_CREATE_DATABASE".into(), "true".into()));
        let mut all: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(extra);
        policy_run(&fx.s3, "restore", "webshop", &all)
            .run()
            .unwrap()
    };
    let target_roles = || target.psql("postgres", ROLES).unwrap();
    let before = target_roles();
    assert_eq!(before, "", "the new server has none of the roles");

    // require (the default): refused before anything changes, naming every missing role.
    let out = restore("shop_new", &[]);
    assert_eq!(out.code, Some(2), "a configuration error: {}", out.stdout);
    let report = out.report.clone().unwrap();
    let message = report["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for role in ["\"app_owner\"", "\"reporting\"", "\"Batch Job\""] {
        assert!(message.contains(role), "{role} not named: {message}");
    }
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(!message.contains("unrelated"), "{message}");
    assert_eq!(target_roles(), "", "no role created");
    assert_eq!(
        target
            .psql(
                "postgres",
                "SELECT count(*) FROM pg_database WHERE datname = 'shop_new'"
            )
            .unwrap(),
        "0",
        "the database was not created"
    );

    // Without owners and privileges no role is needed, none is created.
    let out = restore(
        "shop_plain",
        &[
            ("TIDEMARK_RESTORE_NO_OWNER", "true"),
            ("TIDEMARK_RESTORE_NO_PRIVILEGES", "true"),
        ],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.clone().unwrap();
    assert_eq!(
        report["restore"]["rolesCreated"],
        Value::Null,
        "none: {report}"
    );
    // The database's own setting is applied; the one of a role the server lacks is not.
    assert_eq!(
        report["restore"]["databaseSettingsRestored"], false,
        "{report}"
    );
    assert_eq!(settings_of(&target, "shop_plain"), "- work_mem=12MB");
    assert_eq!(target_roles(), "", "no role created");
    assert_eq!(
        target
            .psql("shop_plain", "SELECT count(*) FROM orders")
            .unwrap(),
        "40"
    );

    // create-missing: exactly the missing roles, with attributes and memberships among
    // them; owners, grants and the database's settings as in the source.
    let out = restore("shop_new", &[("TIDEMARK_RESTORE_ROLES", "create-missing")]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.clone().unwrap();
    assert_eq!(
        report["restore"]["rolesCreated"],
        serde_json::json!(["Batch Job", "app_owner", "reporting"]),
        "{report}"
    );
    assert_eq!(
        report["restore"]["databaseSettingsRestored"], true,
        "{report}"
    );
    assert_eq!(report["restore"]["databaseCreated"], true, "{report}");
    let wanted_roles = fx
        .pg
        .psql("postgres", &ROLES.replace(", 'unrelated'", ""))
        .unwrap();
    assert_eq!(target_roles(), wanted_roles);
    assert_eq!(
        target.psql("postgres", MEMBERS).unwrap(),
        fx.pg.psql("postgres", MEMBERS).unwrap()
    );
    let grants = target.psql("shop_new", OWNERS_AND_GRANTS).unwrap();
    assert_eq!(grants, fx.pg.psql(SOURCE_DB, OWNERS_AND_GRANTS).unwrap());
    for wanted in [
        "orders:app_owner\n",
        "orders:app_owner>reporting:SELECT",
        "orders:app_owner>Batch Job:INSERT",
    ] {
        assert!(grants.contains(wanted), "{wanted}: {grants}");
    }
    let db_props = "SELECT pg_get_userbyid(datdba) || ' ' || pg_encoding_to_char(encoding) \
                    FROM pg_database WHERE datname = current_database()";
    assert_eq!(
        target.psql("shop_new", db_props).unwrap(),
        fx.pg.psql(SOURCE_DB, db_props).unwrap()
    );
    assert_eq!(
        settings_of(&target, "shop_new"),
        settings_of(&fx.pg, SOURCE_DB)
    );
    assert_eq!(
        settings_of(&target, "shop_new"),
        "- work_mem=12MB\nBatch Job statement_timeout=7s"
    );
    assert_eq!(
        target.fingerprints("shop_new").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );

    // A restoring role that is no superuser (CREATEDB only) and may not hand the
    // database to app_owner: the database is its own, with the settings it may make.
    target
        .psql(
            "postgres",
            "CREATE ROLE restorer LOGIN CREATEDB PASSWORD 'restorer-pw'",
        )
        .unwrap();
    let out = restore(
        "shop_by_restorer",
        &[
            ("PGUSER", "restorer"),
            ("PGPASSWORD", "restorer-pw"),
            ("TIDEMARK_RESTORE_NO_OWNER", "true"),
            ("TIDEMARK_RESTORE_NO_PRIVILEGES", "true"),
        ],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.clone().unwrap();
    assert_eq!(
        report["restore"]["databaseSettingsRestored"], false,
        "{report}"
    );
    assert_eq!(
        target.psql("shop_by_restorer", db_props).unwrap(),
        target
            .psql("shop_new", db_props)
            .unwrap()
            .replace("app_owner", "restorer")
    );
    assert_eq!(settings_of(&target, "shop_by_restorer"), "- work_mem=12MB");
    assert_eq!(
        target.fingerprints("shop_by_restorer").unwrap(),
        fx.pg.fingerprints(SOURCE_DB).unwrap()
    );

    // The password hash travelled: app_owner logs in on the new server.
    let login = target
        .tool("psql", "shop_new")
        .env("PGUSER", "app_owner")
        .env("PGPASSWORD", "owner-pw")
        .args(["-X", "-tAc", "SELECT current_user"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&login.stdout).trim(), "app_owner");
    // A damaged globals object (same size: still listed as a backup) stops the restore
    // before anything changes.
    let data_key = report["restore"]["key"].as_str().unwrap().to_string();
    let globals_key = fx
        .manifest(&tidemark_crd::contract::keys::manifest_key(&data_key))
        .await
        .globals
        .unwrap()
        .key;
    let mut damaged = fx.download(&globals_key).await;
    damaged[40] ^= 0x01;
    put_object(&fx.s3, &globals_key, damaged).await;
    let out = restore(
        "shop_never",
        &[("TIDEMARK_RESTORE_ROLES", "create-missing")],
    );
    assert_eq!(out.code, Some(3), "stdout: {}", out.stdout);
    let report = out.report.clone().unwrap();
    assert_eq!(report["error"]["reason"], "CorruptBackup", "{report}");
    assert_eq!(
        target
            .psql(
                "postgres",
                "SELECT count(*) FROM pg_database WHERE datname = 'shop_never'"
            )
            .unwrap(),
        "0"
    );
    eprintln!("restore roles test: {:?}", started.elapsed());
}
