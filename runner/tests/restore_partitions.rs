//! Restoring in place over an existing copy of a schema with partitioned tables that
//! have a primary key (and a foreign key to them), on real servers: pg_restore's
//! `--clean` would drop each partition's inherited constraint and fail with
//! `cannot drop inherited constraint`; the runner restores such schemas in place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_tables_restore_over_an_existing_copy() {
    let fx = Fixture::seaweed().await;
    fx.pg
        .psql(
            SOURCE_DB,
            "CREATE TABLE m (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); \
             CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); \
             CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); \
             CREATE UNIQUE INDEX m_v ON m (v, at); \
             INSERT INTO m SELECT g, DATE '2025-03-01' + (g % 600), 'v' || g FROM generate_series(1, 3000) g; \
             CREATE TABLE r (id int PRIMARY KEY, mid int, mat date, FOREIGN KEY (mid, mat) REFERENCES m); \
             INSERT INTO r SELECT g, g, DATE '2025-03-01' + (g % 600) FROM generate_series(1, 100) g;",
        )
        .unwrap();
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let out = fx
        .restore_run("restore", "copy", &[("TIDEMARK_CREATE_DATABASE", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let before = fx.pg.fingerprints("copy").unwrap();
    fx.pg.psql("copy", "DELETE FROM r WHERE id > 50").unwrap();
    // In place, over the existing copy (clean is the default).
    let out = fx.restore_run("restore", "copy", &[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(fx.pg.fingerprints("copy").unwrap(), before);
    assert_eq!(fx.pg.psql("copy", "SELECT count(*) FROM r").unwrap(), "100");
    // And again: the in-place path is repeatable.
    let out = fx.restore_run("restore", "copy", &[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    // A corrupt object: the keys dropped first come back with the rollback.
    let keys = fx.keys().await;
    let data = keys
        .iter()
        .find(|k| !k.ends_with(".manifest.json"))
        .unwrap();
    let mut stored = fx.download(data).await;
    let at = stored.len() - 10;
    stored[at] ^= 0xff;
    put_object(&fx.s3, data, stored).await;
    let constraints = "SELECT count(*) FROM pg_constraint WHERE conrelid::regclass::text LIKE 'm%'";
    let before_keys = fx.pg.psql("copy", constraints).unwrap();
    let out = fx.restore_run("restore", "copy", &[]).run().unwrap();
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert_eq!(fx.pg.fingerprints("copy").unwrap(), before);
    assert_eq!(fx.pg.psql("copy", constraints).unwrap(), before_keys);
    assert_ne!(before_keys, "0");
}
