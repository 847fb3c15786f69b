//! Which indexes and constraints can be built while later tables still load (pure).
//!
//! `pg_dump` writes the table data in name order; the parallel restore loads it in that
//! order. An index, constraint or trigger needs only the tables it is on (and, for a
//! foreign key, the table it references and that table's key), so it can be built as
//! soon as those are in, overlapping the index builds — the long tail of a large restore
//! — with the loading of the tables after them, as `pg_restore -j` does from a file.
//!
//! The plan is deliberately conservative; everything it leaves out is built after the
//! last row, as before:
//! - only `INDEX`, `CONSTRAINT`, `FK CONSTRAINT`, `INDEX ATTACH` and `TRIGGER` entries of
//!   the post-data section are candidates (never materialized view refreshes, rules,
//!   policies or anything whose effect reads other data);
//! - an entry waits for every table data entry in the closure of its dependencies, and
//!   for every post-data entry there, which must itself be a candidate;
//! - an entry that depends on data other than table rows (sequence values, large
//!   objects) is not a candidate;
//! - when any table's rows are loaded through another table (`--load-via-partition-root`:
//!   the rows of one entry may land in any partition), there are no candidates at all.

use std::collections::{HashMap, HashSet};

use crate::pg::archive_toc::{SECTION_DATA, SECTION_POST_DATA, Toc, TocEntry};

/// Kinds of post-data entries that may be built before the last table is loaded.
const KINDS: &[&str] = &[
    "INDEX",
    "CONSTRAINT",
    "FK CONSTRAINT",
    "INDEX ATTACH",
    "TRIGGER",
];
/// Entries of one dependency closure visited at most; beyond it the entry waits for the
/// end (a bound on the work for very large catalogs).
const MAX_CLOSURE: usize = 4096;

/// One candidate: its dump id, the table data it waits for (indexes among the
/// `TABLE DATA` entries) and the candidates that must be built before it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    id: i64,
    tables: Vec<usize>,
    after: Vec<i64>,
}

/// The candidates of one archive, in TOC order (a dependency order).
#[derive(Clone, Debug, Default)]
pub struct EarlyPlan {
    candidates: Vec<Candidate>,
}

impl EarlyPlan {
    pub fn new(toc: &Toc) -> Self {
        let by_id: HashMap<i64, &TocEntry> = toc.entries.iter().map(|e| (e.dump_id, e)).collect();
        // A table's entry, and its data entry, to the data entry's index.
        let mut data_of: HashMap<i64, usize> = HashMap::new();
        for (index, e) in toc.table_data().enumerate() {
            if !copies_into_itself(e) {
                return Self::default();
            }
            data_of.insert(e.dump_id, index);
            for d in &e.deps {
                if by_id.get(d).is_some_and(|t| t.desc == "TABLE") {
                    data_of.insert(*d, index);
                }
            }
        }
        let is_candidate =
            |e: &TocEntry| e.section == SECTION_POST_DATA && KINDS.contains(&e.desc.as_str());
        let mut candidates = Vec::new();
        'entries: for e in toc.entries.iter().filter(|e| is_candidate(e)) {
            let mut tables = Vec::new();
            let mut after = Vec::new();
            let mut seen: HashSet<i64> = HashSet::new();
            let mut todo: Vec<i64> = e.deps.clone();
            while let Some(id) = todo.pop() {
                if !seen.insert(id) {
                    continue;
                }
                if seen.len() > MAX_CLOSURE {
                    continue 'entries;
                }
                if let Some(&index) = data_of.get(&id)
                    && !tables.contains(&index)
                {
                    tables.push(index);
                }
                let Some(dep) = by_id.get(&id) else {
                    continue; // an object the archive does not hold
                };
                if dep.section == SECTION_POST_DATA {
                    if !is_candidate(dep) {
                        continue 'entries;
                    }
                    after.push(id);
                } else if dep.section == SECTION_DATA && !dep.is_table_data() {
                    continue 'entries;
                }
                todo.extend(dep.deps.iter().copied());
            }
            tables.sort_unstable();
            after.sort_unstable();
            candidates.push(Candidate {
                id: e.dump_id,
                tables,
                after,
            });
        }
        Self { candidates }
    }

    /// How many entries may be built early.
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The candidates that can be built now, in TOC order: not `done`, every table they
    /// wait for `loaded`, every candidate before them done or in the answer (before
    /// them: the TOC order is a dependency order).
    pub fn ready(&self, loaded: &[bool], done: &HashSet<i64>) -> Vec<i64> {
        let mut ready: Vec<i64> = Vec::new();
        for c in &self.candidates {
            if done.contains(&c.id) {
                continue;
            }
            let tables_in = c
                .tables
                .iter()
                .all(|t| loaded.get(*t).copied().unwrap_or(false));
            let before_done = c
                .after
                .iter()
                .all(|a| done.contains(a) || ready.contains(a));
            if tables_in && before_done {
                ready.push(c.id);
            }
        }
        ready
    }
}

/// The dump ids of every entry not in `done`, in TOC order: the list of the last
/// post-data run once some entries were built early.
pub fn remaining(toc: &Toc, done: &HashSet<i64>) -> Vec<i64> {
    toc.entries
        .iter()
        .map(|e| e.dump_id)
        .filter(|id| !done.contains(id))
        .collect()
}

/// Whether a `TABLE DATA` entry's COPY writes into its own table (not into a partition
/// root, which routes the rows to any partition).
fn copies_into_itself(e: &TocEntry) -> bool {
    let Some(stmt) = e.copy_stmt.as_deref() else {
        return false;
    };
    let Some(rest) = stmt.trim_start().strip_prefix("COPY ") else {
        return false;
    };
    matches!(qualified_name(rest), Some((schema, table)) if schema == e.namespace && table == e.tag)
}

/// The `schema.table` at the start of `s`, unquoted (`"a""b"` is `a"b`).
fn qualified_name(s: &str) -> Option<(String, String)> {
    let (schema, rest) = identifier(s)?;
    let rest = rest.strip_prefix('.')?;
    let (table, rest) = identifier(rest)?;
    (rest.is_empty() || rest.starts_with(' ')).then_some((schema, table))
}

/// One identifier at the start of `s`, and what follows it.
fn identifier(s: &str) -> Option<(String, &str)> {
    if let Some(mut rest) = s.strip_prefix('"') {
        let mut out = String::new();
        loop {
            let end = rest.find('"')?;
            out.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('"') {
                Some(after) => {
                    out.push('"');
                    rest = after;
                }
                None => return Some((out, rest)),
            }
        }
    }
    let end = s.find(['.', ' ', '(']).unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_string(), &s[end..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pg::archive_toc::{OFFSET_POS_NOT_SET, SECTION_DATA};

    const PRE: i64 = 2;

    fn entry(id: i64, desc: &str, tag: &str, section: i64, deps: &[i64]) -> TocEntry {
        TocEntry {
            dump_id: id,
            desc: desc.into(),
            section,
            namespace: "public".into(),
            tag: tag.into(),
            defn: None,
            copy_stmt: (desc == "TABLE DATA")
                .then(|| format!("COPY public.{tag} (id) FROM stdin;\n")),
            offset_state: OFFSET_POS_NOT_SET,
            deps: deps.to_vec(),
        }
    }

    /// customers and orders (orders references customers), a sequence, a view refreshed
    /// after the data.
    fn shop() -> Toc {
        let entries = vec![
            entry(1, "SCHEMA", "public", PRE, &[]),
            entry(10, "TABLE", "customers", PRE, &[1]),
            entry(11, "TABLE", "orders", PRE, &[1]),
            entry(12, "SEQUENCE", "orders_id_seq", PRE, &[11]),
            entry(13, "MATERIALIZED VIEW", "totals", PRE, &[11]),
            entry(20, "TABLE DATA", "customers", SECTION_DATA, &[10]),
            entry(21, "TABLE DATA", "orders", SECTION_DATA, &[11]),
            entry(22, "SEQUENCE SET", "orders_id_seq", SECTION_DATA, &[12]),
            entry(30, "CONSTRAINT", "customers_pkey", SECTION_POST_DATA, &[10]),
            entry(31, "CONSTRAINT", "orders_pkey", SECTION_POST_DATA, &[11]),
            entry(
                32,
                "FK CONSTRAINT",
                "orders_customer_fkey",
                SECTION_POST_DATA,
                &[11, 30],
            ),
            entry(33, "INDEX", "orders_by_seq", SECTION_POST_DATA, &[11, 22]),
            entry(
                34,
                "MATERIALIZED VIEW DATA",
                "totals",
                SECTION_POST_DATA,
                &[13],
            ),
            entry(35, "INDEX", "totals_idx", SECTION_POST_DATA, &[13, 34]),
            entry(36, "TRIGGER", "orders_audit", SECTION_POST_DATA, &[11]),
        ];
        Toc {
            int_size: 4,
            entries,
            len: 0,
        }
    }

    fn done(ids: &[i64]) -> HashSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn an_index_waits_for_its_table_and_a_foreign_key_for_both_and_the_key() {
        let plan = EarlyPlan::new(&shop());
        // Sequence values, the view's refresh and what depends on it wait for the end.
        assert_eq!(plan.len(), 4);
        assert_eq!(plan.ready(&[false, false], &done(&[])), Vec::<i64>::new());
        assert_eq!(plan.ready(&[true, false], &done(&[])), [30]);
        assert_eq!(plan.ready(&[false, true], &done(&[])), [31, 36]);
        // The foreign key comes with the key it needs, after it.
        assert_eq!(plan.ready(&[true, true], &done(&[])), [30, 31, 32, 36]);
        assert_eq!(plan.ready(&[true, true], &done(&[30, 31])), [32, 36]);
        assert_eq!(
            plan.ready(&[true, true], &done(&[30, 31, 32, 36])),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn the_last_run_restores_what_was_not_built_early() {
        let toc = shop();
        let rest = remaining(&toc, &done(&[30, 31, 32, 36]));
        assert!(rest.contains(&33) && rest.contains(&34) && rest.contains(&35));
        assert!(!rest.contains(&30) && !rest.contains(&36));
        assert_eq!(rest.len(), toc.entries.len() - 4);
    }

    #[test]
    fn rows_loaded_through_a_partition_root_build_nothing_early() {
        let mut toc = shop();
        toc.entries[5].copy_stmt = Some("COPY public.parent (id) FROM stdin;\n".into());
        assert!(EarlyPlan::new(&toc).is_empty());
    }

    #[test]
    fn quoted_names_are_compared_unquoted() {
        let mut e = entry(20, "TABLE DATA", "Order \"x\"", SECTION_DATA, &[]);
        e.namespace = "Sales".into();
        e.copy_stmt = Some("COPY \"Sales\".\"Order \"\"x\"\"\" (id) FROM stdin;\n".into());
        assert!(copies_into_itself(&e));
        e.copy_stmt = Some("COPY \"Sales\".\"Order\" FROM stdin;\n".into());
        assert!(!copies_into_itself(&e));
        e.copy_stmt = None;
        assert!(!copies_into_itself(&e));
        assert_eq!(
            qualified_name("public.orders FROM stdin"),
            Some(("public".into(), "orders".into()))
        );
        assert_eq!(qualified_name("orders FROM stdin"), None);
        assert_eq!(qualified_name("\"unterminated"), None);
    }
}
