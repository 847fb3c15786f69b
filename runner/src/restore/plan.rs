//! Deciding how a backup is restored — which tools, which arguments, which tables are
//! restored and compared — from the manifest and the request. Pure: no I/O.
//!
//! Routes (the checksum-gate argument is in [`crate::restore::gate`]):
//!
//! | backup | request | route |
//! |---|---|---|
//! | custom | full, all tables | `pg_restore --single-transaction` connected to the target, gated stdin |
//! | custom | a table selection, schema-only, or data-only | `pg_restore -f -` (no connection) → runner → gated stdin of `psql --single-transaction` |
//! | plain | full, all tables | gated stdin of `psql --single-transaction` |
//!
//! The SQL route is needed where pg_restore would not read the archive to its end
//! (so holding back the end could not stop its commit), and for statements the runner
//! adds inside the restore's transaction, which pg_restore cannot run itself: every
//! data-only restore drops the foreign keys involving the restored tables before the
//! data (then `TRUNCATE`s, if asked) and adds them back after it (see
//! [`crate::restore::foreign_keys`]). On this route pg_restore still gets
//! `--single-transaction`: without it, it would wrap large-object data in a
//! `BEGIN`/`COMMIT` of its own, ending psql's transaction in the middle. With it, its
//! SQL is one `BEGIN` … `COMMIT` (the `BEGIN` only warns inside psql's transaction),
//! and the runner's closing statements go right before that final `COMMIT` (see
//! [`crate::restore::forward`]).

use std::collections::{BTreeMap, BTreeSet};

use tidemark_crd::contract::manifest::{DumpFormatTag, Manifest, RowCountModeTag};

use crate::error::{Error, Result};
use crate::pg::snapshot::quote_ident;
use tidemark_crd::contract::values::RestoreContent;

/// A table named `schema.table`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    /// Parses `schema.table`; either part may be double-quoted (`"my.schema"."T"`), and
    /// unquoted parts are taken as written (catalog names, case-sensitive).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::config(format!(
                "TIDEMARK_RESTORE_TABLES: `{text}` is not `schema.table`"
            ))
        };
        let text = text.trim();
        let (schema, rest) = ident(text).ok_or_else(bad)?;
        let rest = rest.strip_prefix('.').ok_or_else(bad)?;
        let (name, rest) = ident(rest).ok_or_else(bad)?;
        if !rest.is_empty() || schema.is_empty() || name.is_empty() {
            return Err(bad());
        }
        Ok(Self { schema, name })
    }

    /// The manifest's key for the table (`schema.table`, unquoted).
    pub fn key(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The quoted SQL name.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// One identifier at the start of `s`: quoted (`""` escapes a quote) or up to the first
/// `.`. Returns it and the rest.
fn ident(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if let Some((_, '"')) = chars.peek() {
                    out.push('"');
                    chars.next();
                    continue;
                }
                return Some((out, &quoted[i + 1..]));
            }
            out.push(c);
        }
        None
    } else {
        let end = s.find('.').unwrap_or(s.len());
        Some((s[..end].trim().to_string(), &s[end..]))
    }
}

/// What was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub content: RestoreContent,
    pub tables: Vec<TableName>,
    pub clean: bool,
    pub truncate: bool,
    pub no_owner: bool,
    pub no_privileges: bool,
}

/// How the tools are run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `pg_restore --single-transaction` connected to the target; the gate is on its stdin.
    PgRestore { args: Vec<String> },
    /// `psql --single-transaction` reading a plain dump; the gate is on its stdin.
    Psql { args: Vec<String> },
    /// `pg_restore -f -` → runner → `psql --single-transaction`; the gate is on psql's
    /// stdin, `prefix` (e.g. `TRUNCATE`) goes first, `suffix` after the released end of
    /// pg_restore's SQL and before psql's input ends (inside the transaction).
    ViaSql {
        pg_restore_args: Vec<String>,
        psql_args: Vec<String>,
        prefix: String,
        suffix: String,
    },
}

/// Which foreign keys a data-only restore sets aside while loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForeignKeyScope {
    /// Those on or referencing these tables (manifest keys).
    Tables(Vec<String>),
    /// Every foreign key of the database (all tables restored, but the manifest does
    /// not list them).
    Database,
}

/// The decided restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub route: Route,
    /// Tables whose data or definition the restore covers (manifest keys).
    pub restored: Vec<String>,
    /// Tables whose row counts are compared afterwards (manifest keys).
    pub compared: Vec<String>,
    /// The target must hold no user objects (nothing would drop what is there).
    pub needs_empty_target: bool,
    /// Data-only: the foreign keys dropped before the data and added back after it.
    pub foreign_keys: Option<ForeignKeyScope>,
}

impl Plan {
    /// Whether the restore drops the backup's objects first (`--clean`).
    pub fn cleans(&self) -> bool {
        match &self.route {
            Route::PgRestore { args }
            | Route::ViaSql {
                pg_restore_args: args,
                ..
            } => args.iter().any(|a| a == "--clean"),
            Route::Psql { .. } => false,
        }
    }
}

/// psql flags shared by both psql routes: no psqlrc, quiet, stop at the first error,
/// one transaction, script from stdin, never prompt for a password.
pub fn psql_args() -> Vec<String> {
    [
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--single-transaction",
        "--no-password",
        "--file=-",
    ]
    .map(String::from)
    .to_vec()
}

/// Decides the restore of `manifest` for `req`.
pub fn plan(manifest: &Manifest, req: &Request) -> Result<Plan> {
    let selected = !req.tables.is_empty();
    if req.truncate && req.content != RestoreContent::DataOnly {
        return Err(Error::config(
            "TIDEMARK_RESTORE_TRUNCATE applies to data-only restores \
             (TIDEMARK_RESTORE_CONTENT=data-only)",
        ));
    }
    check_selection(manifest, &req.tables)?;
    let restored: Vec<String> = if selected {
        let set: BTreeSet<String> = req.tables.iter().map(TableName::key).collect();
        set.into_iter().collect()
    } else {
        manifest.tables.keys().cloned().collect()
    };
    let compared = if manifest.row_count_mode == RowCountModeTag::Exact
        && req.content != RestoreContent::SchemaOnly
    {
        restored.clone()
    } else {
        Vec::new()
    };

    if manifest.dump_format == DumpFormatTag::Plain {
        if req.content != RestoreContent::Full || selected {
            return Err(Error::config(
                "this backup is a plain SQL dump: it can only be restored whole \
                 (TIDEMARK_RESTORE_CONTENT=full, no TIDEMARK_RESTORE_TABLES); \
                 data-only, schema-only and table selections need a custom-format backup",
            ));
        }
        return Ok(Plan {
            route: Route::Psql { args: psql_args() },
            restored,
            compared,
            // A plain dump has no DROP statements: it can only go into an empty database.
            needs_empty_target: true,
            foreign_keys: None,
        });
    }

    let mut common = vec!["--no-password".to_string(), "--exit-on-error".to_string()];
    let clean = req.content == RestoreContent::Full && req.clean;
    match req.content {
        RestoreContent::Full if clean => {
            common.push("--clean".into());
            common.push("--if-exists".into());
        }
        RestoreContent::Full => {}
        RestoreContent::DataOnly => common.push("--data-only".into()),
        RestoreContent::SchemaOnly => common.push("--schema-only".into()),
    }
    if req.no_owner {
        common.push("--no-owner".into());
    }
    if req.no_privileges {
        common.push("--no-privileges".into());
    }
    let schemas: BTreeSet<&str> = req.tables.iter().map(|t| t.schema.as_str()).collect();
    let names: BTreeSet<&str> = req.tables.iter().map(|t| t.name.as_str()).collect();
    common.extend(schemas.iter().map(|s| format!("--schema={s}")));
    common.extend(names.iter().map(|n| format!("--table={n}")));
    common.push("--single-transaction".into());

    let direct = !selected && req.content == RestoreContent::Full;
    let route = if direct {
        let mut args = common;
        // Empty: libpq takes the database from PGDATABASE (no conninfo parsing of names).
        args.push("--dbname=".into());
        Route::PgRestore { args }
    } else {
        let mut pg_restore_args = common;
        pg_restore_args.push("--file=-".into());
        let prefix = if req.truncate {
            let targets: Vec<String> = if selected {
                req.tables.iter().map(TableName::sql).collect()
            } else {
                manifest
                    .tables
                    .keys()
                    .map(|k| manifest_table_sql(k))
                    .collect::<Result<_>>()?
            };
            if targets.is_empty() {
                return Err(Error::config(
                    "TIDEMARK_RESTORE_TRUNCATE: the manifest lists no tables; \
                     name them with TIDEMARK_RESTORE_TABLES",
                ));
            }
            format!("TRUNCATE TABLE {};\n", targets.join(", "))
        } else {
            String::new()
        };
        Route::ViaSql {
            pg_restore_args,
            psql_args: psql_args(),
            prefix,
            suffix: String::new(),
        }
    };
    let foreign_keys = (req.content == RestoreContent::DataOnly).then(|| {
        if restored.is_empty() {
            ForeignKeyScope::Database
        } else {
            ForeignKeyScope::Tables(restored.clone())
        }
    });
    Ok(Plan {
        route,
        restored,
        compared,
        needs_empty_target: req.content == RestoreContent::Full && !clean,
        foreign_keys,
    })
}

/// The quoted name of a manifest key. Keys are `schema.table` joined at the first dot
/// the writer put there; a schema containing a dot cannot be told apart, so it must be
/// selected explicitly.
fn manifest_table_sql(key: &str) -> Result<String> {
    let (schema, name) = key
        .split_once('.')
        .ok_or_else(|| Error::config(format!("manifest table `{key}` is not schema.table")))?;
    Ok(TableName {
        schema: schema.to_string(),
        name: name.to_string(),
    }
    .sql())
}

/// pg_restore selects by schema (`-n`) and by name (`-t`) separately, so a selection
/// restores every table of the chosen schemas with a chosen name. Refuses selections
/// where that would include a table that was not asked for, and tables the backup does
/// not hold (when the manifest lists its tables).
fn check_selection(manifest: &Manifest, tables: &[TableName]) -> Result<()> {
    if tables.is_empty() || manifest.tables.is_empty() {
        return Ok(());
    }
    let in_backup: BTreeMap<String, ()> = manifest.tables.keys().map(|k| (k.clone(), ())).collect();
    let missing: Vec<String> = tables
        .iter()
        .map(TableName::key)
        .filter(|k| !in_backup.contains_key(k))
        .collect();
    if !missing.is_empty() {
        return Err(Error::config(format!(
            "TIDEMARK_RESTORE_TABLES: the backup has no table {}",
            missing.join(", ")
        )));
    }
    let asked: BTreeSet<String> = tables.iter().map(TableName::key).collect();
    let schemas: BTreeSet<&str> = tables.iter().map(|t| t.schema.as_str()).collect();
    let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let extra: Vec<&String> = manifest
        .tables
        .keys()
        .filter(|k| !asked.contains(*k))
        .filter(|k| {
            schemas.iter().any(|s| {
                k.strip_prefix(s)
                    .and_then(|r| r.strip_prefix('.'))
                    .is_some_and(|n| names.contains(n))
            })
        })
        .collect();
    if !extra.is_empty() {
        return Err(Error::config(format!(
            "TIDEMARK_RESTORE_TABLES: pg_restore selects schemas and table names \
             separately, so this selection would also restore {}; restore tables of \
             different schemas in separate runs",
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tidemark_crd::contract::manifest::CompressionTag;

    fn manifest(format: DumpFormatTag, tables: &[(&str, i64)]) -> Manifest {
        Manifest {
            format_version: 1,
            policy_namespace: "shop".into(),
            policy_name: "webshop".into(),
            key: "k".into(),
            started_at: Utc::now(),
            completed_at: Utc::now(),
            stored_size: 1,
            raw_size: 1,
            sha256: "00".into(),
            dump_format: format,
            compression: CompressionTag::Zstd,
            compression_level: Some(3),
            encryption_recipients: vec![],
            server_version: "15.1".into(),
            server_version_num: 150001,
            pg_dump_version: "pg_dump (PostgreSQL) 15.1".into(),
            database: "shop".into(),
            row_count_mode: RowCountModeTag::Exact,
            tables: tables.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            runner_version: "0".into(),
            globals: None,
            run: None,
        }
    }

    fn req(content: RestoreContent, tables: &[&str]) -> Request {
        Request {
            content,
            tables: tables
                .iter()
                .map(|t| TableName::parse(t).unwrap())
                .collect(),
            clean: true,
            truncate: false,
            no_owner: false,
            no_privileges: false,
        }
    }

    const TABLES: &[(&str, i64)] = &[
        ("public.customers", 5),
        ("public.orders", 3),
        ("sales.orders", 7),
        ("public.Audit Log", 2),
    ];

    #[test]
    fn table_names_parse_with_and_without_quotes() {
        let t = TableName::parse("public.Audit Log").unwrap();
        assert_eq!(
            (t.schema.as_str(), t.name.as_str()),
            ("public", "Audit Log")
        );
        assert_eq!(t.sql(), "\"public\".\"Audit Log\"");
        let t = TableName::parse("\"my.schema\".\"we\"\"ird\"").unwrap();
        assert_eq!(
            (t.schema.as_str(), t.name.as_str()),
            ("my.schema", "we\"ird")
        );
        for bad in ["orders", "a.", ".b", "\"open.x", "a.b.c"] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_restore_of_a_custom_dump_goes_direct_with_clean() {
        let p = plan(
            &manifest(DumpFormatTag::Custom, TABLES),
            &req(RestoreContent::Full, &[]),
        )
        .unwrap();
        let Route::PgRestore { args } = &p.route else {
            panic!("{p:?}")
        };
        for a in [
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--dbname=",
        ] {
            assert!(args.contains(&a.to_string()), "{a}: {args:?}");
        }
        assert_eq!(p.restored.len(), 4);
        assert_eq!(p.compared, p.restored);
        assert!(!p.needs_empty_target);
    }

    #[test]
    fn selections_schema_only_and_truncate_take_the_sql_route() {
        let m = manifest(DumpFormatTag::Custom, TABLES);
        let mut r = req(RestoreContent::DataOnly, &["public.customers"]);
        r.truncate = true;
        let p = plan(&m, &r).unwrap();
        let Route::ViaSql {
            pg_restore_args,
            prefix,
            psql_args,
            suffix,
        } = &p.route
        else {
            panic!("{p:?}")
        };
        assert!(pg_restore_args.contains(&"--file=-".to_string()));
        assert!(pg_restore_args.contains(&"--schema=public".to_string()));
        assert!(pg_restore_args.contains(&"--table=customers".to_string()));
        assert!(pg_restore_args.contains(&"--data-only".to_string()));
        assert!(psql_args.contains(&"--single-transaction".to_string()));
        // Without it pg_restore would COMMIT after large objects, mid-stream.
        assert!(pg_restore_args.contains(&"--single-transaction".to_string()));
        assert_eq!(prefix, "TRUNCATE TABLE \"public\".\"customers\";\n");
        assert_eq!(suffix, "", "filled in once the foreign keys are known");
        assert_eq!(p.restored, vec!["public.customers"]);
        assert_eq!(
            p.foreign_keys,
            Some(ForeignKeyScope::Tables(vec!["public.customers".into()]))
        );

        let p = plan(&m, &req(RestoreContent::SchemaOnly, &[])).unwrap();
        assert!(matches!(p.route, Route::ViaSql { .. }));
        assert!(p.compared.is_empty(), "schema-only compares no counts");
        assert_eq!(p.restored.len(), 4);

        let mut r = req(RestoreContent::DataOnly, &[]);
        r.truncate = true;
        let Route::ViaSql { prefix, .. } = plan(&m, &r).unwrap().route else {
            panic!()
        };
        assert!(prefix.contains("\"public\".\"Audit Log\""), "{prefix}");
        assert!(prefix.contains("\"sales\".\"orders\""), "{prefix}");
    }

    #[test]
    fn every_data_only_restore_takes_the_sql_route_and_sets_foreign_keys_aside() {
        let m = manifest(DumpFormatTag::Custom, TABLES);
        let p = plan(&m, &req(RestoreContent::DataOnly, &[])).unwrap();
        let Route::ViaSql {
            pg_restore_args,
            prefix,
            ..
        } = &p.route
        else {
            panic!("{p:?}")
        };
        assert!(pg_restore_args.contains(&"--data-only".to_string()));
        assert_eq!(prefix, "", "no truncate asked");
        let Some(ForeignKeyScope::Tables(tables)) = &p.foreign_keys else {
            panic!("{p:?}")
        };
        assert_eq!(tables.len(), 4);
        // A manifest without its table list: every foreign key of the database.
        let p = plan(
            &manifest(DumpFormatTag::Custom, &[]),
            &req(RestoreContent::DataOnly, &[]),
        )
        .unwrap();
        assert_eq!(p.foreign_keys, Some(ForeignKeyScope::Database));
        // Full and schema-only restores create constraints themselves.
        for content in [RestoreContent::Full, RestoreContent::SchemaOnly] {
            assert_eq!(plan(&m, &req(content, &[])).unwrap().foreign_keys, None);
        }
    }

    #[test]
    fn selections_that_pg_restore_would_widen_are_refused() {
        let m = manifest(DumpFormatTag::Custom, TABLES);
        // -n public -n sales -t customers -t orders would add public.orders.
        let e = plan(
            &m,
            &req(
                RestoreContent::DataOnly,
                &["public.customers", "sales.orders"],
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("public.orders"), "{e}");
        let e = plan(&m, &req(RestoreContent::DataOnly, &["public.nope"])).unwrap_err();
        assert!(e.to_string().contains("no table public.nope"), "{e}");
        assert!(
            plan(
                &m,
                &req(
                    RestoreContent::DataOnly,
                    &["public.customers", "public.orders"]
                )
            )
            .is_ok()
        );
    }

    #[test]
    fn plain_dumps_restore_whole_into_empty_targets_only() {
        let m = manifest(DumpFormatTag::Plain, TABLES);
        let p = plan(&m, &req(RestoreContent::Full, &[])).unwrap();
        assert!(matches!(p.route, Route::Psql { .. }));
        assert!(p.needs_empty_target);
        assert!(plan(&m, &req(RestoreContent::Full, &["public.customers"])).is_err());
        assert!(plan(&m, &req(RestoreContent::DataOnly, &[])).is_err());
    }

    #[test]
    fn no_clean_needs_an_empty_target_and_truncate_needs_data_only() {
        let m = manifest(DumpFormatTag::Custom, TABLES);
        let mut r = req(RestoreContent::Full, &[]);
        r.clean = false;
        let p = plan(&m, &r).unwrap();
        assert!(p.needs_empty_target);
        let Route::PgRestore { args } = p.route else {
            panic!()
        };
        assert!(!args.contains(&"--clean".to_string()));
        r.truncate = true;
        assert!(plan(&m, &r).is_err());
    }
}
