//! The committed CRDs mean the same to a YAML 1.1 reader (kubectl, Helm, PyYAML: where
//! `off`, `yes`, `n` are booleans and `2026-01-01` is a date) as to the code: PyYAML's
//! reading of each file equals the code's JSON, value for value.
//!
//! Needs the project's Python venv with PyYAML (`scripts/setup.sh` creates it; the
//! `TIDEMARK_VENV` variable points elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::repo_root;

/// Reads YAML from stdin with PyYAML's safe loader (YAML 1.1 resolution) and prints it as
/// JSON; values JSON has no type for (dates, timestamps) become `{"!!python": ...}`.
const PYYAML_TO_JSON: &str = r#"
import json, sys, yaml
def other(o):
    return {"!!python": type(o).__name__, "value": str(o)}
print(json.dumps(yaml.safe_load(sys.stdin.read()), default=other))
"#;

fn python() -> PathBuf {
    let venv = std::env::var_os("TIDEMARK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tidemark/venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "no Python venv at {} with PyYAML: run `source scripts/setup.sh` (or set TIDEMARK_VENV)",
        venv.display()
    );
    python
}

/// What a YAML 1.1 reader sees in `yaml`.
fn read_as_yaml_1_1(yaml: &str) -> Value {
    let mut child = Command::new(python())
        .args(["-c", PYYAML_TO_JSON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyYAML failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Paths where `actual` differs from `expected`, with both values.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                differences(
                    &format!("{path}.{key}"),
                    e.get(key).unwrap_or(&Value::Null),
                    a.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                differences(&format!("{path}[{i}]"), e, a, out);
            }
        }
        _ if expected != actual => out.push(format!("{path}: code {expected}, YAML 1.1 {actual}")),
        _ => {}
    }
}

#[test]
fn the_committed_crds_read_as_yaml_1_1_equal_the_code_value_for_value() {
    for (file, crd) in tidemark_crd::crdgen::crds() {
        let path = repo_root().join("charts/tidemark/files/crds").join(file);
        let committed = std::fs::read_to_string(&path).unwrap();
        let mut diff = Vec::new();
        differences(
            "",
            &serde_json::to_value(&crd).unwrap(),
            &read_as_yaml_1_1(&committed),
            &mut diff,
        );
        assert!(diff.is_empty(), "{file}:\n{}", diff.join("\n"));
    }
}

#[test]
fn the_crd_mentions_row_counts_off_as_a_string() {
    // The value that started this test: kubectl read an unquoted `off` as false.
    let crd = read_as_yaml_1_1(
        &std::fs::read_to_string(
            repo_root().join("charts/tidemark/files/crds/backuppolicies.tidemark.dev.yaml"),
        )
        .unwrap(),
    );
    let row_counts = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["dump"]["properties"]["rowCounts"];
    assert_eq!(row_counts["enum"], json!(["exact", "estimate", "off"]));
}

#[test]
fn strings_a_yaml_1_1_reader_could_misread_are_written_so_it_cannot() {
    let strings = json!([
        "off",
        "Off",
        "OFF",
        "on",
        "On",
        "yes",
        "Yes",
        "no",
        "NO",
        "y",
        "Y",
        "n",
        "N",
        "true",
        "False",
        "null",
        "Null",
        "~",
        "",
        "1",
        "1.0",
        "-1",
        "+1",
        "07",
        "0x1F",
        "0o17",
        "0b101",
        "1_000",
        "1e3",
        ".inf",
        "-.Inf",
        ".NaN",
        "12:30",
        "190:20:30",
        "2026-01-01",
        "2026-11-23T09:57:00Z",
        "2026-11-23 09:57:00",
        "=",
        "<<",
        "- dash",
        "a: b",
        "#hash",
        "trailing ",
        " leading",
        "multi\nline\n",
        "a long description that \
        goes on well beyond eighty characters, so that a folded block scalar is likely used",
        "yes please",
        "on call",
        "n/a"
    ]);
    let yaml = tidemark_crd::crdgen::to_yaml(&json!({ "values": strings })).unwrap();
    let mut diff = Vec::new();
    differences(
        "",
        &json!({ "values": strings }),
        &read_as_yaml_1_1(&yaml),
        &mut diff,
    );
    assert!(diff.is_empty(), "{yaml}\n{}", diff.join("\n"));
}

#[test]
fn the_comparison_catches_an_unquoted_off() {
    let mut diff = Vec::new();
    differences(
        "",
        &json!({"enum": ["exact", "estimate", "off"]}),
        &read_as_yaml_1_1("enum:\n- exact\n- estimate\n- off\n"),
        &mut diff,
    );
    assert_eq!(diff, vec![r#".enum[2]: code "off", YAML 1.1 false"#]);
}
