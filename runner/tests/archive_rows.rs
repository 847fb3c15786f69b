//! The custom-format row counter against real `pg_dump` output: every table's count
//! read from the stream equals `count(*)`, for awkward contents (newlines and
//! backslashes in values, empty and quoted-name tables, partitions, unlogged tables,
//! large objects, sequences, materialised views) and any read size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use tidemark_runner::pg::archive_rows::ArchiveRowCounter;
use tidemark_testkit::postgres::TestPostgres;

const SETUP: &str = r#"
CREATE SCHEMA "Sales Dept";
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
INSERT INTO public.notes SELECT g, 'line one' || E'\n' || 'line two\with\\backslash' || E'\r\t' || g
  FROM generate_series(1, 5000) g;
CREATE TABLE "Sales Dept"."Order Lines" (id bigint, note text);
INSERT INTO "Sales Dept"."Order Lines" SELECT g, repeat('x', g % 300) FROM generate_series(1, 20000) g;
CREATE TABLE public.empty (id int);
CREATE TABLE public.events (at date, v int) PARTITION BY RANGE (at);
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.events SELECT date '2025-06-01' + (g % 400), g FROM generate_series(1, 3000) g;
CREATE UNLOGGED TABLE public.cache (k text, v bytea);
INSERT INTO public.cache SELECT 'k' || g, decode(repeat('0a', 50), 'hex') FROM generate_series(1, 700) g;
CREATE SEQUENCE public.ticket_seq; SELECT setval('public.ticket_seq', 42);
CREATE MATERIALIZED VIEW public.totals AS SELECT count(*) AS n FROM public.notes;
SELECT lo_from_bytea(0, decode(repeat('0a0a', 1000), 'hex'));
"#;

#[test]
fn stream_counts_equal_count_star_for_every_table() {
    let pg = TestPostgres::start().expect("start PostgreSQL");
    pg.create_database("awkward").unwrap();
    pg.psql("awkward", SETUP).unwrap();
    let out = pg
        .tool("pg_dump", "awkward")
        .args(["--format=custom", "--compress=0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = out.stdout;

    let mut expected = BTreeMap::new();
    for (schema, table) in [
        ("public", "notes"),
        ("Sales Dept", "Order Lines"),
        ("public", "empty"),
        ("public", "events_2025"),
        ("public", "events_2026"),
        ("public", "cache"),
    ] {
        let n = pg
            .psql(
                "awkward",
                &format!("SELECT count(*) FROM ONLY \"{schema}\".\"{table}\""),
            )
            .unwrap();
        expected.insert(format!("{schema}.{table}"), n.parse::<i64>().unwrap());
    }
    assert!(expected.values().filter(|n| **n > 0).count() >= 4);

    for step in [1usize, 13, 4096, 1 << 20] {
        let mut counter = ArchiveRowCounter::new();
        for chunk in archive.chunks(step) {
            counter.feed(chunk);
        }
        let counts = counter.finish().expect("archive understood");
        assert_eq!(counts, expected, "read size {step}");
    }
}
