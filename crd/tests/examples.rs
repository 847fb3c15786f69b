//! Every example validates against the committed CRDs (OpenAPI schema with strict
//! unknown-field checks, and the CEL rules), deserializes into the API types, and
//! references only Secrets that `examples/secrets.yaml` defines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::*;
use tidemark_crd::{BackupPolicy, RestoreRequest};

const EXAMPLES: &[&str] = &[
    "webshop-hourly.yaml",
    "restore-latest.yaml",
    "restore-before-time.yaml",
    "restore-tables-data-only.yaml",
    "restore-after-failed-migration.yaml",
    "restore-lost-server.yaml",
];

#[test]
fn every_example_file_is_listed_here() {
    let mut on_disk: Vec<String> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "secrets.yaml")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "a new example must be added to EXAMPLES");
}

#[test]
fn every_example_passes_the_openapi_schema() {
    for file in EXAMPLES {
        let obj = example_object(file);
        let kind = obj["kind"].as_str().unwrap();
        let errors = schema_errors(kind, &obj);
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
}

#[test]
fn every_example_passes_the_cel_rules() {
    for file in EXAMPLES {
        let obj = example_object(file);
        let kind = obj["kind"].as_str().unwrap();
        let errors = cel_errors(kind, &obj, None);
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
}

#[test]
fn examples_deserialize_into_the_api_types() {
    let bp: BackupPolicy = serde_json::from_value(example_object("webshop-hourly.yaml")).unwrap();
    assert_eq!(bp.spec.schedule, "0 * * * *");
    assert_eq!(
        (
            bp.spec.retention.hourly,
            bp.spec.retention.daily,
            bp.spec.retention.weekly
        ),
        (24, 7, 4)
    );
    assert_eq!(bp.spec.verification.max_age, "2h");
    assert_eq!(bp.spec.verification.min_size, "1Mi");
    let restore_test = bp
        .spec
        .restore_test
        .expect("the webshop policy tests restores");
    assert_eq!(restore_test.schedule, "0 5 1 * *");
    assert!(bp.spec.encryption.is_some());
    for file in &EXAMPLES[1..] {
        let rr: Result<RestoreRequest, _> = serde_json::from_value(example_object(file));
        assert!(rr.is_ok(), "{file}: {:?}", rr.err());
    }
}

/// Collects `(secret name, key)` of every `*SecretRef` and `secretKeyRef` in a value.
fn secret_refs(value: &Value, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k.ends_with("SecretRef") || k == "secretKeyRef" {
                    out.insert((
                        v["name"].as_str().unwrap().to_string(),
                        v["key"].as_str().unwrap().to_string(),
                    ));
                } else {
                    secret_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secret_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_secret_key_an_example_references_is_defined_in_secrets_yaml() {
    let mut defined = BTreeSet::new();
    for secret in example_docs("secrets.yaml") {
        assert_eq!(secret["kind"], "Secret");
        let name = secret["metadata"]["name"].as_str().unwrap().to_string();
        for key in secret["stringData"].as_object().unwrap().keys() {
            defined.insert((name.clone(), key.clone()));
        }
    }
    for file in EXAMPLES {
        let mut used = BTreeSet::new();
        secret_refs(&example_object(file), &mut used);
        assert!(!used.is_empty(), "{file} references no Secret");
        let missing: Vec<_> = used.difference(&defined).collect();
        assert!(
            missing.is_empty(),
            "{file} references undefined Secret keys: {missing:?}"
        );
    }
}

#[test]
fn the_webshop_policy_follows_the_runbook() {
    let spec = &example_object("webshop-hourly.yaml")["spec"];
    assert_eq!(spec["schedule"], "0 * * * *");
    assert_eq!(spec["s3"]["serverSideEncryption"]["algorithm"], "AES256");
    assert_eq!(spec["s3"]["storageClass"], "STANDARD_IA");
    assert_eq!(spec["verification"]["schedule"], "0 4 * * *");
    assert_eq!(spec["timeZone"], "UTC");
    assert!(spec["encryption"].is_object());
    let post = &example_object("restore-after-failed-migration.yaml")["spec"]["postRestore"];
    assert_eq!(post["command"][2], "migrate");
}
