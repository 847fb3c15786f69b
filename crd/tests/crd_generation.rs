//! The committed CRD YAML is exactly what the code generates, and carries what
//! `kubectl explain` and `kubectl get` need: descriptions everywhere, printer columns,
//! short names, the category and the CEL rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::*;

#[test]
fn committed_crds_match_the_generated_ones() {
    for (file, crd) in tidemark_crd::crdgen::crds() {
        let path = repo_root().join("charts/tidemark/files/crds").join(file);
        let committed = std::fs::read_to_string(&path).unwrap();
        let generated = tidemark_crd::crdgen::render(&crd).unwrap();
        assert!(
            committed == generated,
            "{} is stale: run `cargo run -p tidemark-crd --bin crdgen`",
            path.display()
        );
    }
}

/// Paths of properties without a description.
fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let p = format!("{path}.{name}");
            let top_level_meta =
                path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&name.as_str());
            if !top_level_meta
                && prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                out.push(p.clone());
            }
            undocumented(prop, &p, out);
        }
    }
    if let Some(items) = schema.get("items") {
        undocumented(items, &format!("{path}[]"), out);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        undocumented(extra, &format!("{path}{{}}"), out);
    }
}

#[test]
fn every_field_has_a_description() {
    for plural in ["backuppolicies", "restorerequests"] {
        let mut missing = Vec::new();
        undocumented(&schema_of(plural), "", &mut missing);
        assert!(
            missing.is_empty(),
            "{plural}: fields without description: {missing:#?}"
        );
    }
}

#[test]
fn printer_columns_short_names_and_category_are_declared() {
    // (name, priority): priority 1 columns show with `kubectl get -o wide` only.
    let expect = [
        (
            "backuppolicies",
            "bp",
            vec![
                ("Ready", 0),
                ("Last Success", 0),
                ("Next", 0),
                ("Failures", 0),
                ("Fresh", 0),
                ("Schedule", 1),
                ("Backups", 1),
                ("Size", 1),
                ("Verified", 1),
                ("Age", 0),
            ],
        ),
        (
            "restorerequests",
            "rr",
            vec![
                ("Phase", 0),
                ("Reason", 0),
                ("Backup Time", 0),
                ("Backup", 1),
                ("Target", 0),
                ("Verified", 0),
                ("Duration", 0),
                ("Age", 0),
            ],
        ),
    ];
    for (plural, short, columns) in expect {
        let crd = committed_crd(plural);
        assert_eq!(crd["spec"]["names"]["shortNames"][0], short);
        assert_eq!(crd["spec"]["names"]["categories"][0], "tidemark");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert!(
            version["subresources"]["status"].is_object(),
            "{plural} has a status subresource"
        );
        let names: Vec<(&str, i64)> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap(),
                    c["priority"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(names, columns, "{plural}");
    }
}

#[test]
fn cel_rules_are_in_the_generated_schema() {
    let bp = serde_json::to_string(&committed_crd("backuppolicies")).unwrap();
    let rr = serde_json::to_string(&committed_crd("restorerequests")).unwrap();
    assert!(bp.contains("at least one retention count must be greater than 0"));
    assert!(rr.contains("self == oldSelf"));
    assert!(rr.contains("set exactly one of backup.latest (true), backup.key or backup.before"));
}

#[test]
fn conditions_are_a_list_map_keyed_by_type() {
    for plural in ["backuppolicies", "restorerequests"] {
        let conditions = &schema_of(plural)["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{plural}");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"][0], "type",
            "{plural}"
        );
    }
}
