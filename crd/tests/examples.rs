//! Every example deserializes into the API types and references only Secrets that
//! `examples/secrets.yaml` defines (`snippets.rs` checks that the API server accepts it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::*;
use tidemark_crd::{BackupPolicy, RestoreRequest};

/// Every Tidemark object of `examples/`, with its file name.
fn example_objects() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for path in support::snippets::example_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for doc in example_docs(&file) {
            if doc["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("tidemark.dev/"))
            {
                out.push((file.clone(), doc));
            }
        }
    }
    assert!(
        out.len() >= 6,
        "examples/ holds {} Tidemark objects",
        out.len()
    );
    out
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
    assert_eq!(bp.spec.verification.max_age.as_deref(), Some("2h"));
    assert_eq!(bp.spec.verification.min_size.as_deref(), Some("1Mi"));
    let restore_test = bp
        .spec
        .restore_test
        .expect("the webshop policy tests restores");
    assert_eq!(restore_test.schedule, "0 5 1 * *");
    assert!(bp.spec.encryption.is_some());
    for (file, object) in example_objects() {
        let parsed = match object["kind"].as_str() {
            Some("BackupPolicy") => serde_json::from_value::<BackupPolicy>(object).map(drop),
            _ => serde_json::from_value::<RestoreRequest>(object).map(drop),
        };
        assert!(parsed.is_ok(), "{file}: {:?}", parsed.err());
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
    for (file, object) in example_objects() {
        let mut used = BTreeSet::new();
        secret_refs(&object, &mut used);
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
