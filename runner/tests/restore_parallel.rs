//! The parallel restore path (`TIDEMARK_RESTORE_PARALLELISM` >= 2) on real PostgreSQL and
//! a real S3 server: into a new database and over an existing one (equal to the source by
//! a normalised schema-and-data dump and row counts; the existing database's own
//! settings, privileges, connection limit and comment kept; a connected session ended at
//! the swap), and the faults — a corrupt object, a wrong identity, SIGTERM and SIGKILL in
//! the middle — each leave the target unchanged and no side database behind (an
//! interrupted run's leftover is dropped by the next run), as does a swap blocked by a
//! session the restoring role may not end. The keys of a table already loaded are built
//! while the next one loads. Also: a LATIN1 database with large objects,
//! and a role without CREATEDB (the single stream instead). Prints its wall time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use common::*;

const PARALLEL: (&str, &str) = ("TIDEMARK_RESTORE_PARALLELISM", "2");

/// A normalised plain dump (schema and data) of `db`.
fn normalised_dump(fx: &Fixture, db: &str) -> String {
    fx.pg
        .normalised_dump_at(fx.pg.port(), db, &["--no-owner", "--no-privileges"])
        .unwrap()
}

/// A superuser's psql session connected to `db`, sleeping; returns once it is connected.
fn idle_session(fx: &Fixture, db: &str) -> std::process::Child {
    let session = fx
        .pg
        .tool("psql", db)
        .args(["-X", "-q", "-d", db, "-c", "SELECT pg_sleep(600)"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
         AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
    );
    while fx.pg.psql("postgres", &sql).unwrap() != "1" {
        assert!(Instant::now() < deadline, "the session did not connect");
        std::thread::sleep(Duration::from_millis(50));
    }
    session
}

fn side_databases(fx: &Fixture) -> String {
    fx.pg
        .psql(
            "postgres",
            "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE '%\\_\\_tidemark\\_%'",
        )
        .unwrap()
}

fn spool_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// Waits until a side database of `target` exists (the build started).
fn wait_for_side(fx: &Fixture, target: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if side_databases(fx).contains(&format!("{target}__tidemark_")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no side database appeared");
}

async fn overwrite(fx: &Fixture, key: &str, body: Vec<u8>) {
    put_object(&fx.s3, key, body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_restore_replaces_or_creates_the_target_and_faults_change_nothing() {
    let suite = Instant::now();
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 150_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let (data_key, _) = split_keys(&fx.keys().await);
    let source = normalised_dump(&fx, SOURCE_DB);
    let source_rows = counts(&fx.pg.fingerprints(SOURCE_DB).unwrap());
    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().display().to_string();
    let env = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = vec![PARALLEL, ("TIDEMARK_RESTORE_SPOOL_DIR", "")];
        v.extend_from_slice(extra);
        v
    };
    let run = |db: &str, extra: &[(&'static str, &'static str)]| {
        let mut cmd = fx.restore_run("restore", db, &env(extra));
        cmd.env("TIDEMARK_RESTORE_SPOOL_DIR", &spool_dir);
        cmd
    };

    // Into a new database.
    let out = run("target", &[("TIDEMARK_CREATE_DATABASE", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["restore"]["databaseCreated"], true, "{report}");
    assert_eq!(report["restore"]["mismatchCount"], 0, "{report}");
    assert!(out.stderr.contains("--jobs=2"), "{}", out.stderr);
    // The keys of public.customers are built while sales.orders still loads; the
    // foreign key between them and the rest after the last row.
    assert!(
        out.stderr
            .contains("indexes and constraints built while loading"),
        "{}",
        out.stderr
    );
    assert_eq!(normalised_dump(&fx, "target"), source);
    assert_eq!(counts(&fx.pg.fingerprints("target").unwrap()), source_rows);
    assert_eq!(side_databases(&fx), "");
    assert_eq!(spool_files(spool.path()), 0, "the spool file is removed");

    // Over an existing, changed database: replaced by the backup's content; the
    // database's own settings, privileges, connection limit and comment stay, as they
    // do when the single stream restores into it.
    fx.pg
        .psql(
            "target",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel'); \
             CREATE TABLE public.extra (x int); \
             CREATE ROLE target_reader NOLOGIN; \
             ALTER DATABASE target SET work_mem = '7MB'; \
             ALTER ROLE target_reader IN DATABASE target SET statement_timeout = '5s'; \
             REVOKE ALL ON DATABASE target FROM PUBLIC; \
             GRANT CONNECT ON DATABASE target TO target_reader; \
             ALTER DATABASE target CONNECTION LIMIT 50; \
             COMMENT ON DATABASE target IS 'kept by the swap'",
        )
        .unwrap();
    let properties = || {
        fx.pg
            .psql(
                "postgres",
                "SELECT d.datconnlimit, d.datacl::text, \
                        pg_catalog.shobj_description(d.oid, 'pg_database'), \
                        (SELECT string_agg(coalesce(r.rolname, '-') || ':' || array_to_string(s.setconfig, ','), ';' ORDER BY 1) \
                           FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole \
                          WHERE s.setdatabase = d.oid) \
                   FROM pg_database d WHERE d.datname = 'target'",
            )
            .unwrap()
    };
    let kept = properties();
    assert!(kept.contains("target_reader=c/"), "{kept}");
    assert!(kept.contains("work_mem=7MB"), "{kept}");
    let out = run("target", &[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["restore"]["databaseCreated"], false);
    assert_eq!(normalised_dump(&fx, "target"), source);
    assert_eq!(side_databases(&fx), "");
    assert_eq!(properties(), kept);

    // The target as it is before each fault.
    fx.pg
        .psql(
            "target",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel')",
        )
        .unwrap();
    let before = normalised_dump(&fx, "target");

    // Without clean, a target holding objects is refused before anything is downloaded.
    let out = run("target", &[("TIDEMARK_RESTORE_CLEAN", "false")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert!(
        out.termination_log.contains("refusing"),
        "{}",
        out.termination_log
    );
    assert_eq!(normalised_dump(&fx, "target"), before);
    assert_eq!(side_databases(&fx), "");

    // A session still connected to the target at the swap (a pooler, an exporter): it
    // is ended, the swap goes through and the log says so.
    let mut session = idle_session(&fx, "target");
    let out = run("target", &[("RUST_LOG", "info")]).run().unwrap();
    let ended = session.wait().unwrap();
    assert!(!ended.success(), "the session was ended");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stderr
            .contains("ended the sessions connected to the target database for the swap"),
        "{}",
        out.stderr
    );
    assert_eq!(normalised_dump(&fx, "target"), source);
    assert_eq!(side_databases(&fx), "");
    fx.pg
        .psql(
            "target",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel')",
        )
        .unwrap();
    assert_eq!(normalised_dump(&fx, "target"), before);

    // A corrupt object: one bit flipped in the middle. The schema and the first rows
    // may already be in the side database when the decoders or the hash find it; the
    // side database is dropped and the target is as it was.
    let good = fx.download(&data_key).await;
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    overwrite(&fx, &data_key, bad).await;
    let out = run("target", &[]).run().unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let reason = out.report.unwrap()["error"]["reason"].clone();
    assert!(
        reason == "ChecksumMismatch" || reason == "CorruptBackup",
        "{reason}"
    );
    assert!(
        out.stderr.contains("the target is unchanged"),
        "{}",
        out.stderr
    );
    assert_eq!(normalised_dump(&fx, "target"), before);
    assert_eq!(side_databases(&fx), "");
    assert_eq!(spool_files(spool.path()), 0);
    overwrite(&fx, &data_key, good).await;

    // SIGTERM while pg_restore builds the side database: the runner stops the build,
    // drops the side database, reports the interruption; the target is as it was.
    let (child, cmd) = run("target", &[("RUST_LOG", "info")]).spawn().unwrap();
    wait_for_side(&fx, "target");
    signal(child.id(), "-TERM");
    let out = cmd.wait(child).unwrap();
    assert_ne!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("the target is unchanged"),
        "{}",
        out.stderr
    );
    assert_eq!(normalised_dump(&fx, "target"), before);
    assert_eq!(side_databases(&fx), "");
    assert_eq!(spool_files(spool.path()), 0);

    // SIGKILL in the middle: nothing can clean up, but the target is untouched; the next
    // run drops the leftover side database and restores.
    let (mut child, _cmd) = run("target", &[]).spawn().unwrap();
    wait_for_side(&fx, "target");
    signal(child.id(), "-KILL");
    let _ = child.wait();
    assert_eq!(normalised_dump(&fx, "target"), before);
    let out = run("target", &[("RUST_LOG", "info")]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stderr
            .contains("dropped a side database an interrupted parallel restore left behind"),
        "{}",
        out.stderr
    );
    assert_eq!(normalised_dump(&fx, "target"), source);
    assert_eq!(side_databases(&fx), "");

    // A wrong identity for an encrypted backup: a configuration error, nothing changed.
    fx.pg
        .psql(
            "target",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel')",
        )
        .unwrap();
    let before = normalised_dump(&fx, "target");
    for key in fx.keys().await {
        fx.s3
            .client()
            .delete_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
    }
    let _encrypted = fx.encrypted_backup().await;
    let (other, _) = age_keypair();
    let wrong = other.to_string();
    let mut cmd = run("target", &[]);
    cmd.env("TIDEMARK_AGE_IDENTITY", wrong.expose_secret());
    let out = cmd.run().unwrap();
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["error"]["kind"], "config");
    assert_eq!(normalised_dump(&fx, "target"), before);
    assert_eq!(side_databases(&fx), "");
    eprintln!("restore_parallel wall time: {:?}", suite.elapsed());
}

/// A LATIN1 database with non-ASCII text, large objects, a sequence, a materialised view,
/// a comment and a grant: the rows go through the loading connections in the archive's
/// own client encoding, the large objects and sequence values through the side archive,
/// and the restored database equals the source (its encoding included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_restore_keeps_encoding_large_objects_and_everything_else() {
    let fx = Fixture::seaweed().await;
    for sql in [
        format!("DROP DATABASE {SOURCE_DB}"),
        format!(
            "CREATE DATABASE {SOURCE_DB} TEMPLATE template0 ENCODING 'LATIN1' \
             LC_COLLATE 'C' LC_CTYPE 'C'"
        ),
    ] {
        fx.pg.psql("postgres", &sql).unwrap();
    }
    fx.pg
        .psql(
            SOURCE_DB,
            "CREATE ROLE lo_reader NOLOGIN; \
             CREATE TABLE public.words (id serial PRIMARY KEY, word text NOT NULL); \
             INSERT INTO public.words (word) SELECT 'café crème brûlée ' || g FROM generate_series(1, 30000) g; \
             CREATE TABLE public.blank (id int); \
             CREATE MATERIALIZED VIEW public.counted AS SELECT count(*) AS n FROM public.words; \
             COMMENT ON TABLE public.words IS 'Wörter'; \
             GRANT SELECT ON public.words TO lo_reader; \
             SELECT lo_from_bytea(0, decode(repeat('c3a9', 50000), 'hex')); \
             SELECT lo_from_bytea(0, convert_to('Grüße', 'LATIN1'));",
        )
        .unwrap();
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let source = fx
        .pg
        .normalised_dump_at(fx.pg.port(), SOURCE_DB, &[])
        .unwrap();
    assert!(
        source.contains("caf\u{e9} cr\u{e8}me"),
        "the dump is read as UTF-8"
    );
    assert!(source.contains("lo_open"), "the source has large objects");

    let spool = tempfile::tempdir().unwrap();
    let mut cmd = fx.restore_run(
        "restore",
        "copy",
        &[
            PARALLEL,
            ("TIDEMARK_CREATE_DATABASE", "true"),
            ("RUST_LOG", "info"),
        ],
    );
    cmd.env(
        "TIDEMARK_RESTORE_SPOOL_DIR",
        &spool.path().display().to_string(),
    );
    let out = cmd.run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("every row is in the side database"),
        "the parallel path ran: {}",
        out.stderr
    );
    assert_eq!(
        fx.pg.normalised_dump_at(fx.pg.port(), "copy", &[]).unwrap(),
        source
    );
    assert_eq!(
        fx.pg
            .psql(
                "postgres",
                "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'copy'"
            )
            .unwrap(),
        "LATIN1"
    );
    assert_eq!(side_databases(&fx), "");
    assert_eq!(spool_files(spool.path()), 0, "the side archive is removed");
}

/// A restoring role without CREATEDB cannot build a side database: the runner says so
/// and restores with the single stream, into the database the role owns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_create_databases_restores_with_the_single_stream() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for sql in [
        "CREATE ROLE limited LOGIN PASSWORD 'limited-pw'",
        "CREATE DATABASE owned OWNER limited",
    ] {
        fx.pg.psql("postgres", sql).unwrap();
    }
    let mut cmd = fx.restore_run(
        "restore",
        "owned",
        &[
            PARALLEL,
            ("TIDEMARK_RESTORE_NO_OWNER", "true"),
            ("TIDEMARK_RESTORE_NO_PRIVILEGES", "true"),
            ("RUST_LOG", "info"),
        ],
    );
    cmd.env("PGUSER", "limited").env("PGPASSWORD", "limited-pw");
    let out = cmd.run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("restoring with the single stream") && out.stderr.contains("CREATEDB"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("side database"), "{}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["restore"]["mismatchCount"], 0, "{report}");
    assert_eq!(
        fx.pg
            .psql("owned", "SELECT count(*) FROM sales.orders")
            .unwrap(),
        "2000"
    );
}

/// A restoring role that owns the target and may create databases, but may not end a
/// superuser's session connected to the target: the rename at the swap fails, the side
/// database is dropped and the target is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_blocked_by_a_session_the_role_may_not_end_changes_nothing() {
    let fx = Fixture::seaweed().await;
    seed(&fx.pg, 2_000);
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    for sql in [
        "CREATE ROLE restorer LOGIN CREATEDB PASSWORD 'restorer-pw'",
        "CREATE DATABASE guarded OWNER restorer",
    ] {
        fx.pg.psql("postgres", sql).unwrap();
    }
    let restore = |log: &'static str| {
        let mut cmd = fx.restore_run(
            "restore",
            "guarded",
            &[
                PARALLEL,
                ("TIDEMARK_RESTORE_CLEAN", "true"),
                ("TIDEMARK_RESTORE_NO_OWNER", "true"),
                ("TIDEMARK_RESTORE_NO_PRIVILEGES", "true"),
                ("RUST_LOG", log),
            ],
        );
        cmd.env("PGUSER", "restorer")
            .env("PGPASSWORD", "restorer-pw");
        cmd.run().unwrap()
    };
    let out = restore("info");
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("every row is in the side database"),
        "the owner with CREATEDB takes the parallel path: {}",
        out.stderr
    );
    fx.pg
        .psql(
            "guarded",
            "INSERT INTO public.customers (id, name) VALUES (999999, 'sentinel')",
        )
        .unwrap();
    let before = normalised_dump(&fx, "guarded");

    // A superuser's session on the target.
    let mut session = idle_session(&fx, "guarded");
    let out = restore("info");
    let _ = session.kill();
    let _ = session.wait();
    assert_ne!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.termination_log
            .contains("being accessed by other users"),
        "{}",
        out.termination_log
    );
    assert!(
        out.stderr.contains("the target is unchanged"),
        "{}",
        out.stderr
    );
    assert_eq!(normalised_dump(&fx, "guarded"), before);
    assert_eq!(side_databases(&fx), "");
}
