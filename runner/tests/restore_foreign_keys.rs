//! Data-only restores of tables with foreign keys: the runner drops the constraints
//! involving the restored tables inside the restore's transaction, loads (truncating
//! first when asked) and adds them back before the commit, so the archive's table order
//! does not matter and data that does not fit the database rolls everything back.
//! Real binary, real PostgreSQL and SeaweedFS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

/// users (parent); orders (child, sorts before users in the dump) with a deferrable
/// key; reviews (not restored) referencing users with a `NOT VALID` key that a row
/// already violates (so re-adding it validated would fail); products ← order_lines.
const SCHEMA: &str = r#"
CREATE TABLE public.users (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.orders (id int PRIMARY KEY, user_id int NOT NULL, total numeric(10,2));
ALTER TABLE public.orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES public.users (id) DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE public.reviews (id int PRIMARY KEY, user_id int, body text);
INSERT INTO public.users SELECT g, 'user ' || g FROM generate_series(1, 50) g;
INSERT INTO public.orders SELECT g, 1 + g % 50, g * 1.5 FROM generate_series(1, 200) g;
INSERT INTO public.reviews SELECT g, 1 + g % 50, 'review ' || g FROM generate_series(1, 30) g;
INSERT INTO public.reviews VALUES (999, 999, 'orphan from before the key');
ALTER TABLE public.reviews ADD CONSTRAINT "Reviews by User" FOREIGN KEY (user_id)
  REFERENCES public.users (id) ON DELETE SET NULL NOT VALID;
CREATE TABLE public.products (sku text PRIMARY KEY);
CREATE TABLE public.order_lines (order_id int REFERENCES public.orders ON DELETE CASCADE,
  sku text REFERENCES public.products, qty int);
INSERT INTO public.products VALUES ('A'), ('B');
INSERT INTO public.order_lines SELECT g, CASE WHEN g % 2 = 0 THEN 'A' ELSE 'B' END, 1
  FROM generate_series(1, 100) g;
ANALYZE;
"#;

/// Every foreign key of `db`: table, name, definition, validated.
fn foreign_keys(fx: &Fixture, db: &str) -> String {
    fx.pg
        .psql(
            db,
            "SELECT string_agg(conrelid::regclass || ' | ' || conname || ' | ' \
               || pg_get_constraintdef(oid) || ' | ' || convalidated, E'\\n' \
               ORDER BY conrelid::regclass::text, conname) \
             FROM pg_constraint WHERE contype = 'f'",
        )
        .unwrap()
}

fn seeded_with_backup(fx: &Fixture) {
    fx.pg.psql(SOURCE_DB, SCHEMA).unwrap();
    let out = fx.backup(&[]).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_and_child_restore_data_only_with_truncate_and_keep_their_keys() {
    let fx = Fixture::seaweed().await;
    seeded_with_backup(&fx);
    let source = fx.pg.fingerprints(SOURCE_DB).unwrap();
    let keys = foreign_keys(&fx, SOURCE_DB);
    assert!(keys.contains("NOT VALID | false"), "{keys}");
    assert!(keys.contains("DEFERRABLE INITIALLY DEFERRED"), "{keys}");

    // The rows of users 26..50 are deleted (their reviews lose their user).
    fx.pg
        .psql(
            SOURCE_DB,
            "DELETE FROM public.orders WHERE user_id > 25; DELETE FROM public.users WHERE id > 25",
        )
        .unwrap();
    let reviews_after_delete = fx.pg.fingerprints(SOURCE_DB).unwrap()["public.reviews"].clone();
    let lines_after_delete = fx.pg.fingerprints(SOURCE_DB).unwrap()["public.order_lines"].clone();
    assert_ne!(lines_after_delete, source["public.order_lines"]);

    let out = fx
        .restore_run(
            "restore",
            SOURCE_DB,
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TABLES", "public.orders,public.users"),
                ("TIDEMARK_RESTORE_TRUNCATE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let r = out.report.unwrap()["restore"].clone();
    assert_eq!(r["tablesRestored"], 2);
    assert_eq!(r["mismatchCount"], 0);

    let after = fx.pg.fingerprints(SOURCE_DB).unwrap();
    assert_eq!(after["public.users"], source["public.users"]);
    assert_eq!(after["public.orders"], source["public.orders"]);
    assert_eq!(
        after["public.reviews"], reviews_after_delete,
        "not restored"
    );
    assert_eq!(
        after["public.order_lines"], lines_after_delete,
        "not restored"
    );
    // The same constraints, same definitions, NOT VALID still not validated.
    assert_eq!(foreign_keys(&fx, SOURCE_DB), keys);

    // The keys are enforced again, including the one of the table not restored.
    fx.pg
        .psql(
            SOURCE_DB,
            "INSERT INTO public.reviews VALUES (100, 40, 'user 40 is back')",
        )
        .unwrap();
    let e = fx
        .pg
        .psql(
            SOURCE_DB,
            "INSERT INTO public.reviews VALUES (101, 77, 'x')",
        )
        .unwrap_err();
    assert!(format!("{e:#}").contains("Reviews by User"), "{e:#}");
    let e = fx
        .pg
        .psql(SOURCE_DB, "INSERT INTO public.orders VALUES (1000, 77, 1)")
        .unwrap_err();
    assert!(format!("{e:#}").contains("orders_user_id_fkey"), "{e:#}");
    let e = fx
        .pg
        .psql(
            SOURCE_DB,
            "INSERT INTO public.order_lines VALUES (5000, 'A', 1)",
        )
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("order_lines_order_id_fkey"),
        "{e:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_whose_parents_are_gone_fails_naming_the_key_and_changes_nothing() {
    let fx = Fixture::seaweed().await;
    seeded_with_backup(&fx);
    let keys = foreign_keys(&fx, SOURCE_DB);
    // Users 26..50 and their orders are gone; a sentinel change in orders.
    fx.pg
        .psql(
            SOURCE_DB,
            "DELETE FROM public.orders WHERE user_id > 25; DELETE FROM public.users WHERE id > 25; \
             UPDATE public.orders SET total = -1 WHERE id = 1",
        )
        .unwrap();
    let before = fx.pg.fingerprints(SOURCE_DB).unwrap();

    let out = fx
        .restore_run(
            "restore",
            SOURCE_DB,
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TABLES", "public.orders"),
                ("TIDEMARK_RESTORE_TRUNCATE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_ne!(out.code, Some(0), "stderr: {}", out.stderr);
    let report = out.report.unwrap();
    assert_eq!(report["outcome"], "failed", "{report}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("orders_user_id_fkey"), "{message}");

    assert_eq!(fx.pg.fingerprints(SOURCE_DB).unwrap(), before, "unchanged");
    assert_eq!(
        fx.pg
            .psql(SOURCE_DB, "SELECT total FROM public.orders WHERE id = 1")
            .unwrap(),
        "-1.00"
    );
    assert_eq!(
        foreign_keys(&fx, SOURCE_DB),
        keys,
        "constraints still there"
    );
    // No session of the failed restore holds locks.
    fx.pg
        .psql(SOURCE_DB, "INSERT INTO public.users VALUES (26, 'back')")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_tables_restore_data_only_into_a_database_whose_data_was_deleted() {
    let fx = Fixture::seaweed().await;
    // A large object: pg_restore writes its data in a transaction block of its own
    // unless it runs with --single-transaction, which would commit mid-stream. (A
    // data-only restore creates the large objects it holds, so they are removed from
    // the target before each run, like the rows.)
    fx.pg
        .psql(SOURCE_DB, "SELECT lo_from_bytea(424242, 'large object')")
        .unwrap();
    seeded_with_backup(&fx);
    let source = fx.pg.fingerprints(SOURCE_DB).unwrap();
    let keys = foreign_keys(&fx, SOURCE_DB);
    let out = fx
        .restore_run("restore", "copy", &[("TIDEMARK_CREATE_DATABASE", "true")])
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    fx.pg
        .psql(
            "copy",
            "DELETE FROM public.order_lines; DELETE FROM public.reviews; \
             DELETE FROM public.orders; DELETE FROM public.users; DELETE FROM public.products; \
             SELECT lo_unlink(424242)",
        )
        .unwrap();

    let data_only = [("TIDEMARK_RESTORE_CONTENT", "data-only")];
    let out = fx.restore_run("restore", "copy", &data_only).run().unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.report.unwrap()["restore"]["tablesRestored"], 5);
    assert_eq!(fx.pg.fingerprints("copy").unwrap(), source);
    assert_eq!(foreign_keys(&fx, "copy"), keys);
    let large_object = |fx: &Fixture| {
        fx.pg
            .psql(
                "copy",
                "SELECT coalesce((SELECT convert_from(lo_get(oid), 'UTF8') \
                   FROM pg_largeobject_metadata WHERE oid = 424242), 'none')",
            )
            .unwrap()
    };
    assert_eq!(large_object(&fx), "large object");

    // Again over the data, with truncate: TRUNCATE of referenced tables works too.
    fx.pg
        .psql(
            "copy",
            "UPDATE public.users SET name = 'changed'; SELECT lo_unlink(424242)",
        )
        .unwrap();
    let out = fx
        .restore_run(
            "restore",
            "copy",
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TRUNCATE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(fx.pg.fingerprints("copy").unwrap(), source);
    assert_eq!(foreign_keys(&fx, "copy"), keys);
    assert_eq!(large_object(&fx), "large object");

    // A table the backup does not have references a user the backup does not have:
    // the key is re-added at the end of the transaction, fails, and everything
    // (the truncate, the data, the large object) rolls back.
    fx.pg
        .psql(
            "copy",
            "INSERT INTO public.users VALUES (777, 'only here'); \
             CREATE TABLE public.extra (user_id int CONSTRAINT extra_user REFERENCES public.users); \
             INSERT INTO public.extra VALUES (777); \
             SELECT lo_unlink(424242); \
             UPDATE public.orders SET total = -1 WHERE id = 1",
        )
        .unwrap();
    let before = fx.pg.fingerprints("copy").unwrap();
    let keys_before = foreign_keys(&fx, "copy");
    let out = fx
        .restore_run(
            "restore",
            "copy",
            &[
                ("TIDEMARK_RESTORE_CONTENT", "data-only"),
                ("TIDEMARK_RESTORE_TRUNCATE", "true"),
            ],
        )
        .run()
        .unwrap();
    assert_ne!(out.code, Some(0), "stderr: {}", out.stderr);
    let message = out.report.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("extra_user"), "{message}");
    assert_eq!(fx.pg.fingerprints("copy").unwrap(), before, "unchanged");
    assert_eq!(foreign_keys(&fx, "copy"), keys_before);
    assert_eq!(
        large_object(&fx),
        "none",
        "the large object's creation rolled back"
    );
}
