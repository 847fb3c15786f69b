//! Shared helpers for the CRD tests: loading the committed CRDs and examples, and
//! validating objects the way the API server would (structural defaults, then the
//! OpenAPI schema, then the CEL rules).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod snippets;

use std::path::PathBuf;

use kube::core::cel::Validator;
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed CRD for a kind, parsed from `charts/tidemark/files/crds/`.
pub fn committed_crd(plural: &str) -> Value {
    let path = repo_root().join(format!(
        "charts/tidemark/files/crds/{plural}.tidemark.dev.yaml"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap()
}

/// The openAPIV3Schema of a committed CRD.
pub fn schema_of(plural: &str) -> Value {
    committed_crd(plural)["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

pub fn plural_of(kind: &str) -> &'static str {
    match kind {
        "BackupPolicy" => "backuppolicies",
        "RestoreRequest" => "restorerequests",
        other => panic!("not a Tidemark kind: {other}"),
    }
}

/// Every YAML document in an example file.
pub fn example_docs(file: &str) -> Vec<Value> {
    let path = repo_root().join("examples").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// The single Tidemark object of an example file.
pub fn example_object(file: &str) -> Value {
    example_docs(file)
        .into_iter()
        .find(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("tidemark.dev/"))
        })
        .unwrap_or_else(|| panic!("{file} holds no Tidemark object"))
}

/// Adds `additionalProperties: false` wherever a schema lists its properties, like the
/// API server's strict field validation (`kubectl apply --validate=strict`).
fn strict(schema: &mut Value) {
    if let Value::Object(map) = schema {
        let preserves = map
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserves
        {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        for v in map.values_mut() {
            strict(v);
        }
    } else if let Value::Array(items) = schema {
        for v in items {
            strict(v);
        }
    }
}

/// OpenAPI schema errors as `path: message` lines (empty when valid).
pub fn schema_errors(kind: &str, object: &Value) -> Vec<String> {
    let mut schema = schema_of(plural_of(kind));
    // apiVersion, kind and metadata are validated by the API server itself.
    for (field, ty) in [
        ("apiVersion", "string"),
        ("kind", "string"),
        ("metadata", "object"),
    ] {
        schema["properties"][field] = serde_json::json!({ "type": ty });
    }
    strict(&mut schema);
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the CRD schema is a valid JSON schema");
    validator
        .iter_errors(object)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

/// CEL errors as `field.path: message` lines (empty when valid). `old` enables
/// transition rules (updates).
pub fn cel_errors(kind: &str, object: &Value, old: Option<&Value>) -> Vec<(String, String)> {
    let schema = schema_of(plural_of(kind));
    match Validator::new().validate(&schema, object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .into_iter()
            .map(|e| (e.rule.clone(), e.to_string()))
            .collect(),
    }
}

/// Applies the schema's `default`s the way the API server's structural defaulting does
/// before it validates: a missing field with a default gets a copy of it (then defaulted
/// inside, too); a `null` in a non-nullable field gets the default, or is pruned when
/// there is none.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    let nullable = prop["nullable"].as_bool().unwrap_or(false);
                    let default = prop.get("default");
                    match (map.get(name), default) {
                        (None, Some(d)) => {
                            map.insert(name.clone(), d.clone());
                        }
                        (Some(Value::Null), Some(d)) if !nullable => {
                            map.insert(name.clone(), d.clone());
                        }
                        (Some(Value::Null), None) if !nullable => {
                            map.remove(name);
                        }
                        _ => {}
                    }
                }
            }
            for (name, v) in map.iter_mut() {
                if let Some(prop) = schema.get("properties").and_then(|p| p.get(name)) {
                    apply_defaults(prop, v);
                } else if let Some(extra) =
                    schema.get("additionalProperties").filter(|a| a.is_object())
                {
                    apply_defaults(extra, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                items
                    .iter_mut()
                    .for_each(|v| apply_defaults(item_schema, v));
            }
        }
        _ => {}
    }
}

/// The object as the API server stores it: the CRD's structural defaults applied.
pub fn defaulted(kind: &str, object: &Value) -> Value {
    let mut object = object.clone();
    apply_defaults(&schema_of(plural_of(kind)), &mut object);
    object
}

/// Everything the API server would reject in a new object, in its order: defaults are
/// applied first, then the OpenAPI schema (types, enums, patterns, ranges, unknown
/// fields) is checked, then every CEL rule. Empty when the object would be accepted.
pub fn admission_errors(kind: &str, object: &Value) -> Vec<String> {
    let object = defaulted(kind, object);
    let schema = schema_errors(kind, &object);
    if !schema.is_empty() {
        // CEL rules are evaluated on a well-typed object only.
        return schema;
    }
    cel_errors(kind, &object, None)
        .into_iter()
        .map(|(_, message)| message)
        .collect()
}

/// Applies a JSON merge patch (RFC 7386).
pub fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(Default::default());
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}
