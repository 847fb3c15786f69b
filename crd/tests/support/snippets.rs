//! The Tidemark objects a user can copy: every fenced block of the Markdown docs that
//! holds a `kind: BackupPolicy` or `kind: RestoreRequest`, and every file of `examples/`.
//! Found by walking the files, so a new snippet or example is checked without a list.
//!
//! A deliberate counter-example is marked, either by a YAML comment inside it or by an
//! HTML comment on the line before its fence, and must then be REJECTED:
//! `# tidemark: invalid-example` or `<!-- tidemark: invalid-example -->`, optionally
//! followed by `: <text the rejection must contain>`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{admission_errors, repo_root};

/// The kinds this project defines.
pub const KINDS: [&str; 2] = ["BackupPolicy", "RestoreRequest"];

/// The marker of a deliberate counter-example.
pub const INVALID_MARKER: &str = "tidemark: invalid-example";

/// One copyable block of YAML.
#[derive(Debug, Clone)]
pub struct Snippet {
    /// `file:line` of its first line, for messages.
    pub origin: String,
    pub text: String,
    /// `Some(expected)` for a marked counter-example (`expected` may be empty).
    pub invalid: Option<String>,
    /// Whether it must hold a Tidemark object (a doc block selected for its `kind:`);
    /// an example file may hold only Secrets.
    pub must_hold_object: bool,
}

/// The expectation after a marker: `Some("")` for a bare marker, `Some(text)` for
/// `marker: text`, `None` without a marker.
fn marker_in(line: &str) -> Option<String> {
    let at = line.find(INVALID_MARKER)?;
    let rest = line[at + INVALID_MARKER.len()..]
        .trim_end_matches("-->")
        .trim();
    Some(rest.strip_prefix(':').unwrap_or(rest).trim().to_string())
}

fn holds_a_tidemark_kind(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim()
            .strip_prefix("kind:")
            .map(|k| k.trim().trim_matches(['"', '\'']))
            .is_some_and(|k| KINDS.contains(&k))
    })
}

/// Fenced blocks (``` or ~~~, indented ones inside lists too) of a Markdown text that hold
/// a Tidemark kind.
pub fn markdown_snippets(file: &str, markdown: &str) -> Vec<Snippet> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let indent = lines[i].len() - trimmed.len();
        let fence = if trimmed.starts_with("```") {
            "```"
        } else if trimmed.starts_with("~~~") {
            "~~~"
        } else {
            i += 1;
            continue;
        };
        let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        let marked_before = before.and_then(|l| marker_in(l));
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && !lines[end].trim_start().starts_with(fence) {
            end += 1;
        }
        let text: String = lines[start..end]
            .iter()
            .map(|l| {
                let strip = l.len() - l.trim_start_matches(' ').len();
                format!("{}\n", &l[strip.min(indent)..])
            })
            .collect();
        if holds_a_tidemark_kind(&text) {
            let invalid = marked_before.or_else(|| text.lines().find_map(marker_in));
            out.push(Snippet {
                origin: format!("{file}:{}", start + 1),
                text,
                invalid,
                must_hold_object: true,
            });
        }
        i = end + 1;
    }
    out
}

fn files_under(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, extensions, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
    out.sort();
}

fn relative(path: &Path) -> String {
    let root = repo_root().canonicalize().unwrap();
    let path = path.canonicalize().unwrap();
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// `README.md` and every Markdown file under `docs/`.
pub fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![repo_root().join("README.md")];
    files_under(&repo_root().join("docs"), &["md"], &mut files);
    files
}

/// Every YAML file under `examples/`.
pub fn example_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(&repo_root().join("examples"), &["yaml", "yml"], &mut files);
    files
}

/// Every snippet of the docs and every example file (whole, as one snippet).
pub fn all_snippets() -> Vec<Snippet> {
    let mut out = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        out.extend(markdown_snippets(&relative(&path), &text));
    }
    for path in example_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        out.push(Snippet {
            origin: format!("{}:1", relative(&path)),
            invalid: text.lines().find_map(marker_in),
            text,
            must_hold_object: false,
        });
    }
    out
}

/// The Tidemark objects of a snippet, or why it is not YAML. Read as kubectl reads
/// YAML (YAML 1.1: an unquoted `off` is the boolean false).
pub fn objects(snippet: &Snippet) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&snippet.text)
        .map_err(|e| format!("{}: not valid YAML: {e}", snippet.origin))?;
    Ok(docs
        .into_iter()
        .filter(|d| d["kind"].as_str().is_some_and(|k| KINDS.contains(&k)))
        .collect())
}

/// What is wrong with a snippet: an unmarked object the API server would reject, or a
/// marked counter-example it would accept (or reject for another reason than stated).
/// Empty when the snippet is as it claims to be.
pub fn problems(snippet: &Snippet) -> Vec<String> {
    let objects = match objects(snippet) {
        Ok(objects) => objects,
        // A counter-example that is not even YAML is rejected too.
        Err(_) if snippet.invalid.is_some() => return Vec::new(),
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or("<no name>");
        errors.extend(
            admission_errors(kind, object)
                .into_iter()
                .map(|e| format!("{kind} {name}: {e}")),
        );
    }
    match &snippet.invalid {
        None if objects.is_empty() && snippet.must_hold_object => vec![format!(
            "{}: holds no {} object that parses",
            snippet.origin,
            KINDS.join(" or ")
        )],
        None => errors
            .into_iter()
            .map(|e| format!("{}: {e}", snippet.origin))
            .collect(),
        Some(_) if errors.is_empty() => vec![format!(
            "{}: marked `{INVALID_MARKER}` but the API server would accept it",
            snippet.origin
        )],
        Some(expected) if !errors.iter().any(|e| e.contains(expected.as_str())) => {
            vec![format!(
                "{}: rejected, but not with `{expected}`: {errors:?}",
                snippet.origin
            )]
        }
        Some(_) => Vec::new(),
    }
}
