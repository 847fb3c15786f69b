//! Foreign keys around a data-only restore. Pure: the catalog query lives in
//! [`crate::restore::target`].
//!
//! A data-only restore loads rows into tables whose constraints already exist, in the
//! archive's order, which is not the order the foreign keys need (a child table may
//! come before its parent), and `TRUNCATE` of a referenced table is refused. So, inside
//! the restore's one transaction, the runner
//!
//! 1. drops every foreign key on a restored table or referencing one (from any table),
//! 2. truncates the restored tables, if asked,
//! 3. loads the data,
//! 4. adds exactly those constraints back, by name, with the definition
//!    `pg_get_constraintdef` gave for them (actions, `MATCH`, deferrability and
//!    `NOT VALID` included), before the commit.
//!
//! Step 4 validates each constraint against the rows now in the database, so data that
//! does not fit the rest of the database fails the `ALTER TABLE … ADD CONSTRAINT`, psql
//! stops (`ON_ERROR_STOP`), the transaction rolls back and the target is unchanged; the
//! error names the constraint. This is what a full restore does implicitly (pg_restore
//! creates constraints after the data), and unlike `--disable-triggers` or
//! `session_replication_role` it needs no superuser — only ownership of the tables
//! involved, which `ALTER TABLE` requires.

use crate::pg::snapshot::quote_ident;
use crate::restore::plan::Route;

/// One foreign-key constraint as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    /// Schema of the table the constraint is on.
    pub schema: String,
    /// The table the constraint is on.
    pub table: String,
    /// The constraint's name.
    pub name: String,
    /// `pg_get_constraintdef` with an empty `search_path` (all names qualified).
    pub definition: String,
}

impl ForeignKey {
    fn table_sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }

    /// `schema.table.constraint` for messages.
    pub fn describe(&self) -> String {
        format!("{}.{}.{}", self.schema, self.table, self.name)
    }
}

/// The statements run before the data: drop the constraints.
pub fn drops(keys: &[ForeignKey]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {};\n",
                k.table_sql(),
                quote_ident(&k.name)
            )
        })
        .collect()
}

/// The statements run after the data: add the same constraints back (validated).
pub fn adds(keys: &[ForeignKey]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {};\n",
                k.table_sql(),
                quote_ident(&k.name),
                k.definition
            )
        })
        .collect()
}

/// The SQL route with the drops in front of its prefix (so a `TRUNCATE` of a referenced
/// table works) and the adds as its suffix. Other routes are returned unchanged (the
/// planner sends every data-only restore the SQL route).
pub fn wrap(route: &Route, keys: &[ForeignKey]) -> Route {
    match route {
        Route::ViaSql {
            pg_restore_args,
            psql_args,
            prefix,
            suffix,
        } if !keys.is_empty() => Route::ViaSql {
            pg_restore_args: pg_restore_args.clone(),
            psql_args: psql_args.clone(),
            prefix: format!("{}{prefix}", drops(keys)),
            suffix: format!("{suffix}{}", adds(keys)),
        },
        other => other.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(table: &str, name: &str, def: &str) -> ForeignKey {
        ForeignKey {
            schema: "public".into(),
            table: table.into(),
            name: name.into(),
            definition: def.into(),
        }
    }

    #[test]
    fn constraints_are_dropped_before_the_truncate_and_added_back_after_the_data() {
        let keys = [
            key(
                "orders",
                "orders_user_id_fkey",
                "FOREIGN KEY (user_id) REFERENCES public.users(id) NOT VALID",
            ),
            key(
                "Odd \"T\"",
                "Fk Name",
                "FOREIGN KEY (a) REFERENCES public.users(id) DEFERRABLE INITIALLY DEFERRED",
            ),
        ];
        let route = Route::ViaSql {
            pg_restore_args: vec!["--data-only".into()],
            psql_args: vec!["--single-transaction".into()],
            prefix: "TRUNCATE TABLE \"public\".\"users\";\n".into(),
            suffix: String::new(),
        };
        let Route::ViaSql { prefix, suffix, .. } = wrap(&route, &keys) else {
            panic!()
        };
        assert_eq!(
            prefix,
            "ALTER TABLE \"public\".\"orders\" DROP CONSTRAINT \"orders_user_id_fkey\";\n\
             ALTER TABLE \"public\".\"Odd \"\"T\"\"\" DROP CONSTRAINT \"Fk Name\";\n\
             TRUNCATE TABLE \"public\".\"users\";\n"
        );
        assert_eq!(
            suffix,
            "ALTER TABLE \"public\".\"orders\" ADD CONSTRAINT \"orders_user_id_fkey\" \
             FOREIGN KEY (user_id) REFERENCES public.users(id) NOT VALID;\n\
             ALTER TABLE \"public\".\"Odd \"\"T\"\"\" ADD CONSTRAINT \"Fk Name\" \
             FOREIGN KEY (a) REFERENCES public.users(id) DEFERRABLE INITIALLY DEFERRED;\n"
        );
    }

    #[test]
    fn without_foreign_keys_or_off_the_sql_route_nothing_changes() {
        let route = Route::ViaSql {
            pg_restore_args: vec![],
            psql_args: vec![],
            prefix: "TRUNCATE TABLE x;\n".into(),
            suffix: String::new(),
        };
        assert_eq!(wrap(&route, &[]), route);
        let direct = Route::PgRestore { args: vec![] };
        assert_eq!(wrap(&direct, &[key("a", "b", "c")]), direct);
    }
}
