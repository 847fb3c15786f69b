//! A plain-format backup with a large object, on real servers: pg_dump writes its own
//! `BEGIN;`/`COMMIT;` around large objects, which inside `psql --single-transaction`
//! would commit part of the restore. The runner neutralises them, so a restore whose
//! object turns out corrupt leaves the target exactly as it was, and a good one
//! restores everything, the large object included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

/// Objects of the target that a restore would create.
fn footprint(fx: &Fixture, db: &str) -> String {
    fx.pg
        .psql(
            db,
            "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace) \
             || '/' || (SELECT count(*) FROM pg_largeobject_metadata)",
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_plain_backup_with_a_large_object_changes_nothing() {
    let fx = Fixture::seaweed().await;
    // 10,000 rows, a primary key, a large object; an index with a 4 MB comment (both
    // after the data) puts more than what the gate holds back (1 MiB and a buffer) after the large object's
    // COMMIT.
    fx.pg
        .psql(
            SOURCE_DB,
            "CREATE TABLE t (id int PRIMARY KEY, note text); \
             INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 10000) g; \
             SELECT lo_from_bytea(0, decode(repeat('ab', 5000), 'hex')); \
             CREATE INDEX t_note ON t (note); \
             DO $$ BEGIN EXECUTE 'COMMENT ON INDEX t_note IS ' \
               || quote_literal(repeat('x', 4000000)); END $$;",
        )
        .unwrap();
    let out = fx
        .backup(&[
            ("TIDEMARK_DUMP_FORMAT", "plain"),
            ("TIDEMARK_COMPRESSION", "none"),
        ])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let key = out.report.unwrap()["backup"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let mut stored = fx.download(&key).await;
    let text = String::from_utf8_lossy(&stored);
    let lo_commit = text
        .rfind("\nCOMMIT;\n")
        .expect("pg_dump's large-object COMMIT");
    assert!(
        stored.len() - lo_commit > 1 << 20,
        "the COMMIT is outside the held-back end"
    );

    // A good restore: everything, the large object included.
    let out = fx
        .restore_run("restore", "good", &[("TIDEMARK_CREATE_DATABASE", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        fx.pg.psql("good", "SELECT count(*) FROM t").unwrap(),
        "10000"
    );
    assert_eq!(
        fx.pg
            .psql(
                "good",
                "SELECT length(lo_get(oid)) FROM pg_largeobject_metadata"
            )
            .unwrap(),
        "5000"
    );

    // Corrupt a byte near the end (inside the long comment): the checksum fails at
    // the end of the stream, after the large object's COMMIT went to psql.
    let pos = stored.len() - 200_000;
    assert_eq!(stored[pos], b'x');
    stored[pos] = b'y';
    put_object(&fx.s3, &key, stored.clone()).await;
    fx.pg.create_database("target").unwrap();
    let before = footprint(&fx, "target");
    let out = fx.restore_run("restore", "target", &[]).run().unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["error"]["reason"], "ChecksumMismatch", "{report}");
    assert_eq!(
        footprint(&fx, "target"),
        before,
        "the failed restore committed something"
    );
    assert_eq!(before, "0/0");
}
