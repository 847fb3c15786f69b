//! Scenario B of the runbook, end to end: the server is lost and a new, empty server of a
//! newer major (PostgreSQL 18) is provisioned, without the application's roles. A
//! RestoreRequest with `createDatabase` and `roles: CreateMissing` restores the webshop
//! onto it; schema, owners, grants, database settings and row counts must match the
//! source. Without role creation the request fails before anything changes, naming
//! the missing roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tidemark_crd::RestoreRequest;
use tidemark_crd::restore_request::status::RestorePhase;
use tidemark_testkit::cluster::{Cluster, ClusterOptions, DATABASE};
use tidemark_testkit::postgres::{PASSWORD, TestPostgres};

const POLICY: &str = "webshop";
const ROLES: [&str; 3] = ["webshop_batch", "webshop_owner", "webshop_reader"];

fn finished(r: &RestoreRequest) -> bool {
    r.status.as_ref().is_some_and(|s| s.phase.is_terminal())
}

/// The application's roles on the source: the owner of the database and its tables, a
/// read-only role with grants, and a role with a setting in the database.
fn add_application_roles(pg: &TestPostgres) {
    pg.psql(
        "postgres",
        &format!(
            "CREATE ROLE webshop_owner LOGIN PASSWORD 'owner-pw'; \
             CREATE ROLE webshop_reader NOLOGIN; \
             CREATE ROLE webshop_batch LOGIN CONNECTION LIMIT 5; \
             ALTER DATABASE {DATABASE} OWNER TO webshop_owner; \
             ALTER DATABASE {DATABASE} SET statement_timeout TO '30s'; \
             ALTER ROLE webshop_batch IN DATABASE {DATABASE} SET work_mem TO '64MB'"
        ),
    )
    .unwrap();
    pg.psql(
        DATABASE,
        "DO $$ DECLARE t record; BEGIN \
           FOR t IN SELECT c.oid::regclass AS name FROM pg_class c \
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') \
           LOOP EXECUTE format('ALTER TABLE %s OWNER TO webshop_owner', t.name); END LOOP; \
         END $$; \
         GRANT USAGE ON SCHEMA public TO webshop_reader; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO webshop_reader",
    )
    .unwrap();
}

/// `pg_dump --schema-only` of `db` on the server at `port` by the newest tools (those
/// of `newest`), without comments, session settings and the per-run restrict keys:
/// what remains are the objects, their owners and their grants.
fn normalised_schema(newest: &TestPostgres, port: u16, db: &str) -> String {
    newest
        .normalised_dump_at(port, db, &["--schema-only", "--no-comments"])
        .unwrap()
}

/// The database's owner and settings (its own and those of roles in it), by name.
fn database_settings(pg: &TestPostgres, db: &str) -> String {
    pg.psql(
        "postgres",
        &format!(
            "SELECT pg_get_userbyid(d.datdba) || ' ' || coalesce(( \
               SELECT string_agg(coalesce(r.rolname, '*') || ':' || array_to_string(s.setconfig, ','), \
                                 ' ' ORDER BY r.rolname NULLS FIRST) \
               FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole \
               WHERE s.setdatabase = d.oid), '') \
             FROM pg_database d WHERE d.datname = '{db}'"
        ),
    )
    .unwrap()
}

fn roles_present(pg: &TestPostgres) -> String {
    pg.psql(
        "postgres",
        "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles \
         WHERE rolname LIKE 'webshop\\_%'",
    )
    .unwrap()
}

#[tokio::test]
async fn scenario_b_restores_onto_a_new_empty_server_of_a_newer_major_with_the_roles_it_needs() {
    let cluster = Cluster::start(ClusterOptions::new("e2e_lost-server").age().pg_majors())
        .await
        .unwrap();
    let source = cluster.pg();
    add_application_roles(source);
    let good = cluster.fingerprints(DATABASE).unwrap();

    // The nightly backup of the source, with its globals object beside the dump.
    cluster.apply_json(&cluster.policy(POLICY)).await.unwrap();
    cluster.run_now(POLICY, "before-the-loss").await.unwrap();
    let p = cluster
        .wait_for_policy(POLICY, Duration::from_secs(90), |p| {
            p.status.as_ref().is_some_and(|s| {
                s.last_run_now.as_deref() == Some("before-the-loss")
                    && s.active.is_empty()
                    && s.last_backup.is_some()
            })
        })
        .await
        .unwrap();
    let key = p.status.unwrap().last_backup.unwrap().key;
    let manifest = cluster.manifest(&key).await.unwrap();
    let globals = manifest.globals.expect("the backup has a globals object");
    assert!(
        cluster
            .policy_keys(POLICY)
            .await
            .unwrap()
            .contains(&globals.key),
        "{}",
        globals.key
    );
    for role in ROLES {
        assert!(
            globals.roles.iter().any(|r| r == role),
            "{:?}",
            globals.roles
        );
    }

    // The server is lost. The new one is empty, PostgreSQL 18, without the roles.
    let new = TestPostgres::start_major(18).unwrap();
    assert!(source.major().unwrap() < 18);
    assert_eq!(roles_present(&new), "");
    let connection = |db: &str| {
        let mut c = cluster.database_connection(db);
        c["port"] = json!(new.port());
        c
    };

    // Without role creation: refused before anything changes, naming the roles.
    let mut request = cluster.restore_request("restore-refused", POLICY, DATABASE);
    request["spec"]["target"] = json!({"connection": connection(DATABASE), "createDatabase": true});
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-refused", Duration::from_secs(120), finished)
        .await
        .unwrap();
    let s = r.status.unwrap();
    assert_eq!(s.phase, RestorePhase::Failed, "{s:?}");
    let message = s.message.unwrap_or_default();
    for role in ROLES {
        assert!(message.contains(role), "{message}");
    }
    assert!(s.roles_created.is_empty());
    assert_eq!(
        new.psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{DATABASE}'")
        )
        .unwrap(),
        "0",
        "the refused restore created no database"
    );
    assert_eq!(roles_present(&new), "", "and no role");

    // With role creation: the database, its roles and settings are rebuilt.
    let mut request = cluster.restore_request("restore-new-server", POLICY, DATABASE);
    request["spec"]["target"] = json!({
        "connection": connection(DATABASE),
        "createDatabase": true,
        "roles": "CreateMissing",
    });
    cluster.apply_json(&request).await.unwrap();
    let r = cluster
        .wait_for_restore("restore-new-server", Duration::from_secs(180), finished)
        .await
        .unwrap();
    let s = r.status.unwrap();
    assert_eq!(s.phase, RestorePhase::Succeeded, "{s:?}");
    let mut created = s.roles_created.clone();
    created.sort();
    assert_eq!(created, ROLES);
    assert_eq!(roles_present(&new), ROLES.join(","));

    assert_eq!(new.fingerprints(DATABASE).unwrap(), good, "row contents");
    assert_eq!(
        normalised_schema(&new, new.port(), DATABASE),
        normalised_schema(&new, source.port(), DATABASE),
        "schema, owners and grants"
    );
    assert_eq!(
        database_settings(&new, DATABASE),
        database_settings(source, DATABASE),
        "database owner and settings"
    );
    assert_eq!(
        new.psql(
            "postgres",
            "SELECT rolcanlogin::text || ' ' || rolconnlimit FROM pg_roles \
             WHERE rolname = 'webshop_batch'"
        )
        .unwrap(),
        "true 5",
        "role attributes travelled"
    );
    // The owner's password hash travelled: it logs in on the new server.
    let login = new
        .tool("psql", DATABASE)
        .env("PGUSER", "webshop_owner")
        .env("PGPASSWORD", "owner-pw")
        .args(["-X", "-A", "-t", "-c", "SELECT current_user"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&login.stdout).trim(),
        "webshop_owner",
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    assert_ne!(PASSWORD, "owner-pw");
    cluster.assert_no_secret_leaks().await.unwrap();
}
