//! Which tables a dump holds, following pg_dump's `-n/-N/-t/-T` pattern rules closely
//! enough for row counting: `*` and `?` wildcards, unquoted names folded to lower case,
//! `"Quoted"` parts taken literally, `schema.table` or an unqualified table name (which
//! matches tables visible on the search path). As pg_dump documents, `-n`/`-N` have no
//! effect when `-t` is given.

/// One glob token.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Lit(char),
    AnyRun,
    AnyOne,
}

/// A compiled glob.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Glob(Vec<Tok>);

impl Glob {
    fn matches(&self, s: &str) -> bool {
        let text: Vec<char> = s.chars().collect();
        glob_match(&self.0, &text)
    }
}

fn glob_match(pat: &[Tok], text: &[char]) -> bool {
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Tok::AnyOne) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Tok::AnyRun) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|tok| *tok == Tok::AnyRun)
}

/// Splits a pattern on unquoted dots and compiles each part.
fn compile_parts(pattern: &str) -> Vec<Glob> {
    let mut parts = vec![Vec::new()];
    let mut in_quotes = false;
    let mut chars = pattern.trim().chars().peekable();
    while let Some(c) = chars.next() {
        let current = parts.last_mut();
        let Some(current) = current else { break };
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                current.push(Tok::Lit('"'));
            }
            '"' => in_quotes = !in_quotes,
            '.' if !in_quotes => parts.push(Vec::new()),
            c if in_quotes => current.push(Tok::Lit(c)),
            '*' => current.push(Tok::AnyRun),
            '?' => current.push(Tok::AnyOne),
            c => current.extend(c.to_lowercase().map(Tok::Lit)),
        }
    }
    parts.into_iter().map(Glob).collect()
}

/// A table pattern: optional schema glob and a name glob.
#[derive(Clone, Debug)]
struct TablePattern {
    schema: Option<Glob>,
    name: Glob,
}

impl TablePattern {
    fn parse(pattern: &str) -> Self {
        let mut parts = compile_parts(pattern);
        let name = parts.pop().unwrap_or(Glob(Vec::new()));
        // `db.schema.table`: the database part is ignored, as pg_dump requires it to
        // be the current database anyway.
        let schema = parts.pop();
        Self { schema, name }
    }

    fn matches(&self, t: &TableRef<'_>) -> bool {
        let schema_ok = match &self.schema {
            Some(g) => g.matches(t.schema),
            None => t.visible,
        };
        schema_ok && self.name.matches(t.name)
    }
}

/// A table as seen in the catalog.
#[derive(Clone, Copy, Debug)]
pub struct TableRef<'a> {
    pub schema: &'a str,
    pub name: &'a str,
    /// `pg_table_is_visible(oid)`: reachable through the search path unqualified.
    pub visible: bool,
}

/// The include/exclude filters of one dump.
#[derive(Clone, Debug, Default)]
pub struct TableFilter {
    include_schemas: Vec<Glob>,
    exclude_schemas: Vec<Glob>,
    include_tables: Vec<TablePattern>,
    exclude_tables: Vec<TablePattern>,
}

impl TableFilter {
    /// Compiles the patterns (empty strings are ignored).
    pub fn new(
        include_schemas: &[String],
        exclude_schemas: &[String],
        include_tables: &[String],
        exclude_tables: &[String],
    ) -> Self {
        let schema = |v: &[String]| {
            v.iter()
                .filter(|s| !s.trim().is_empty())
                .filter_map(|s| compile_parts(s).pop())
                .collect()
        };
        let table = |v: &[String]| {
            v.iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| TablePattern::parse(s))
                .collect()
        };
        Self {
            include_schemas: schema(include_schemas),
            exclude_schemas: schema(exclude_schemas),
            include_tables: table(include_tables),
            exclude_tables: table(exclude_tables),
        }
    }

    /// Whether pg_dump with these filters dumps the table's data.
    pub fn includes(&self, t: &TableRef<'_>) -> bool {
        let selected = if !self.include_tables.is_empty() {
            self.include_tables.iter().any(|p| p.matches(t))
        } else {
            (self.include_schemas.is_empty()
                || self.include_schemas.iter().any(|g| g.matches(t.schema)))
                && !self.exclude_schemas.iter().any(|g| g.matches(t.schema))
        };
        selected && !self.exclude_tables.iter().any(|p| p.matches(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn t<'a>(schema: &'a str, name: &'a str, visible: bool) -> TableRef<'a> {
        TableRef {
            schema,
            name,
            visible,
        }
    }

    #[test]
    fn no_filters_include_everything() {
        let f = TableFilter::new(&[], &[], &[], &[]);
        assert!(f.includes(&t("audit", "log", false)));
    }

    #[test]
    fn schema_filters_select_and_exclude() {
        let f = TableFilter::new(&s(&["shop*"]), &s(&["shop_tmp"]), &[], &[]);
        assert!(f.includes(&t("shop", "orders", false)));
        assert!(f.includes(&t("shop_eu", "orders", false)));
        assert!(!f.includes(&t("shop_tmp", "orders", false)));
        assert!(!f.includes(&t("public", "orders", true)));
    }

    #[test]
    fn table_patterns_fold_case_unless_quoted_and_override_schema_filters() {
        let f = TableFilter::new(
            &s(&["other"]),
            &[],
            &s(&["public.Orders", "\"Mixed\".\"T*\""]),
            &[],
        );
        assert!(f.includes(&t("public", "orders", true)));
        assert!(!f.includes(&t("public", "Orders", true)));
        assert!(f.includes(&t("Mixed", "T*", false)));
        assert!(!f.includes(&t("Mixed", "Tx", false)));
    }

    #[test]
    fn unqualified_table_patterns_match_visible_tables_only() {
        let f = TableFilter::new(&[], &[], &[], &s(&["big_?og", "tmp_*"]));
        assert!(!f.includes(&t("public", "big_log", true)));
        assert!(f.includes(&t("archive", "big_log", false)));
        assert!(!f.includes(&t("public", "tmp_", true)));
        assert!(f.includes(&t("public", "orders", true)));
    }

    #[test]
    fn globs_backtrack() {
        let g = Glob(vec![Tok::AnyRun, Tok::Lit('a'), Tok::AnyRun, Tok::Lit('b')]);
        assert!(g.matches("xxaxxb"));
        assert!(g.matches("ab"));
        assert!(!g.matches("ba"));
        assert!(compile_parts("a.b.c").len() == 3);
    }
}
