//! The globals of a database on real servers: captured from a PostgreSQL 15 source with
//! application roles (an owner with a password, a read-only role with grants through a
//! group, a role with a setting in the database), applied by hand with psql onto a new,
//! empty PostgreSQL 18 server that has none of them, and applied again without change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tidemark_runner::pg::globals;
use tidemark_testkit::postgres::{PASSWORD, SUPERUSER, TestPostgres};

async fn connect(
    pg: &TestPostgres,
    user: &str,
    password: &str,
    db: &str,
) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(pg.port())
        .user(user)
        .password(password)
        .dbname(db)
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

const ROLES: &str = "\
SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolconnlimit, \
  coalesce(array_to_string((SELECT setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0), ','), '') \
FROM pg_roles r WHERE rolname IN ('app_owner', 'reporting', 'app_reader', 'Batch Job') ORDER BY 1";

const MEMBERS: &str = "\
SELECT g.rolname || '>' || m.rolname || ':' || a.admin_option FROM pg_auth_members a \
JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
WHERE m.rolname IN ('app_owner', 'reporting', 'app_reader', 'Batch Job') ORDER BY 1";

/// The by-hand step: `psql -v target=shop_restored -f globals.sql` on the new server.
fn apply(target: &TestPostgres, file: &std::path::Path) -> std::process::Output {
    target
        .tool("psql", "postgres")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "target=shop_restored",
            "-f",
        ])
        .arg(file)
        .output()
        .unwrap()
}

fn setup_source(pg: &TestPostgres) {
    pg.psql(
        "postgres",
        "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw' CREATEDB CONNECTION LIMIT 20; \
         CREATE ROLE reporting NOLOGIN; \
         CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw' IN ROLE reporting; \
         CREATE ROLE \"Batch Job\" LOGIN NOINHERIT; \
         CREATE ROLE unrelated LOGIN; \
         ALTER ROLE app_reader SET statement_timeout TO '5s'",
    )
    .unwrap();
    pg.psql("postgres", "CREATE DATABASE shop OWNER app_owner")
        .unwrap();
    pg.psql(
        "shop",
        "SET ROLE app_owner; \
         CREATE TABLE orders (id int PRIMARY KEY, total numeric); \
         INSERT INTO orders VALUES (1, 9.5); \
         GRANT SELECT ON orders TO reporting; \
         RESET ROLE; \
         ALTER ROLE \"Batch Job\" IN DATABASE shop SET work_mem TO '64MB'; \
         ALTER DATABASE shop SET timezone TO 'Europe/Berlin'",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_recreate_the_roles_a_database_needs_on_a_new_server() {
    let source = TestPostgres::start().unwrap();
    setup_source(&source);
    let client = connect(&source, SUPERUSER, PASSWORD, "shop").await;
    let g = globals::capture(&client, "source").await.unwrap();
    assert!(g.passwords, "a superuser reads the password hashes");
    assert_eq!(
        g.role_names(),
        vec!["Batch Job", "app_owner", "reporting"],
        "owner, grantee and the role with a setting in the database; not unrelated"
    );
    let script = globals::render(&g);
    assert!(
        !script.contains("owner-pw"),
        "hashes only, never a clear password"
    );
    assert!(script.contains("SCRAM-SHA-256$"));

    // app_reader reaches the orders through reporting only: it is not referenced by the
    // database, so it is not captured (its membership neither).
    let target = TestPostgres::start_major(18).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("globals.sql");
    std::fs::write(&file, &script).unwrap();
    for round in 0..2 {
        let out = apply(&target, &file);
        // The CREATE DATABASE is commented out: the database must exist for its settings.
        if round == 0 {
            assert!(!out.status.success(), "no database yet: the settings fail");
            target
                .psql("postgres", "CREATE DATABASE shop_restored")
                .unwrap();
            let out = apply(&target, &file);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            assert!(
                out.status.success(),
                "again: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let wanted = source
        .psql("postgres", &ROLES.replace("'app_reader', ", ""))
        .unwrap();
    assert_eq!(target.psql("postgres", ROLES).unwrap(), wanted);
    assert_eq!(
        target
            .psql(
                "shop_restored",
                "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s \
                 JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'shop_restored' \
                 ORDER BY setrole"
            )
            .unwrap(),
        "TimeZone=Europe/Berlin\nwork_mem=64MB"
    );
    // The password hash travelled: app_owner logs in on the new server with its password.
    let owner = connect(&target, "app_owner", "owner-pw", "shop_restored").await;
    let who: String = owner
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "app_owner");

    // An existing role is never altered: a role of the same name keeps its attributes.
    target
        .psql("postgres", "ALTER ROLE app_owner CONNECTION LIMIT 3")
        .unwrap();
    let out = apply(&target, &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        target
            .psql(
                "postgres",
                "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'app_owner'"
            )
            .unwrap(),
        "3"
    );

    // A backup role that cannot read pg_authid: the roles without their passwords, said so.
    let owner = connect(&source, "app_owner", "owner-pw", "shop").await;
    let g = globals::capture(&owner, "source").await.unwrap();
    assert!(!g.passwords);
    let script = globals::render(&g);
    assert!(!script.contains("PASSWORD"), "{script}");
    assert!(script.contains("Role passwords: not included"));
    assert!(
        source
            .psql("postgres", MEMBERS)
            .unwrap()
            .contains("reporting>app_reader")
    );
}
