//! For every validation rule, a broken example is rejected with a message that names
//! the field, as the API server would report it to `kubectl apply`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::*;

/// A broken variant of an example, and the message a user sees.
struct Broken {
    what: &'static str,
    base: &'static str,
    patch: Value,
    /// The API server's message must contain this (it names the field).
    message: &'static str,
}

fn cel_cases() -> Vec<Broken> {
    let policy = "webshop-hourly.yaml";
    let restore = "restore-latest.yaml";
    vec![
        Broken {
            what: "a spread beyond an hour",
            base: policy,
            patch: json!({"spec": {"scheduleSpreadSeconds": 3601}}),
            message: "spec.scheduleSpreadSeconds: scheduleSpreadSeconds must be between 0 and 3600",
        },
        Broken {
            what: "a negative spread",
            base: policy,
            patch: json!({"spec": {"scheduleSpreadSeconds": -1}}),
            message: "spec.scheduleSpreadSeconds: scheduleSpreadSeconds must be between 0 and 3600",
        },
        Broken {
            what: "database with both a URI and a host",
            base: policy,
            patch: json!({"spec": {"database": {"uriSecretRef": {"name": "db", "key": "uri"}}}}),
            message: "spec.database: set exactly one of uriSecretRef or host",
        },
        Broken {
            what: "host without database",
            base: policy,
            patch: json!({"spec": {"database": {"database": null}}}),
            message: "spec.database.database: database is required when host is set",
        },
        Broken {
            what: "databases beside database.database",
            base: policy,
            patch: json!({"spec": {"databases": {"names": ["shop", "audit"]}}}),
            message: "spec.databases: set either database.database (one database) or databases (several), not both",
        },
        Broken {
            what: "databases with neither names nor all",
            base: policy,
            patch: json!({"spec": {"database": {"database": null}, "databases": {"names": []}}}),
            message: "spec.databases: set exactly one of names or all: true",
        },
        Broken {
            what: "databases excluded without all",
            base: policy,
            patch: json!({"spec": {"database": {"database": null}, "databases": {"names": ["shop"], "exclude": ["postgres"]}}}),
            message: "spec.databases.exclude: exclude applies only with all: true",
        },
        Broken {
            what: "host without user",
            base: policy,
            patch: json!({"spec": {"database": {"userSecretRef": null}}}),
            message: "spec.database: user or userSecretRef is required when host is set",
        },
        Broken {
            what: "user given twice",
            base: policy,
            patch: json!({"spec": {"database": {"user": "webshop"}}}),
            message: "spec.database: set at most one of user or userSecretRef",
        },
        Broken {
            what: "CA without certificate checking",
            base: policy,
            patch: json!({"spec": {"database": {"caSecretRef": {"name": "db-ca", "key": "ca.crt"}}}}),
            message: "spec.database.caSecretRef: caSecretRef needs sslMode require, verify-ca or verify-full",
        },
        Broken {
            what: "gzip level out of range",
            base: policy,
            patch: json!({"spec": {"dump": {"compression": {"algorithm": "gzip", "level": 12}}}}),
            message: "spec.dump.compression.level: gzip level must be between 1 and 9",
        },
        Broken {
            what: "zstd level out of range",
            base: policy,
            patch: json!({"spec": {"dump": {"compression": {"level": 22}}}}),
            message: "spec.dump.compression.level: zstd level must be between 1 and 19",
        },
        Broken {
            what: "a level without compression",
            base: policy,
            patch: json!({"spec": {"dump": {"compression": {"algorithm": "none"}}}}),
            message: "spec.dump.compression.level: level is not valid with algorithm none",
        },
        Broken {
            what: "recipients given twice",
            base: policy,
            patch: json!({"spec": {"encryption": {"recipients": ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]}}}),
            message: "spec.encryption: set exactly one of recipients or recipientsSecretRef",
        },
        Broken {
            what: "retention that keeps nothing",
            base: policy,
            patch: json!({"spec": {"retention": {"hourly": 0, "daily": 0, "weekly": 0}}}),
            message: "spec.retention: at least one retention count must be greater than 0",
        },
        Broken {
            what: "a KMS key with SSE-S3",
            base: policy,
            patch: json!({"spec": {"s3": {"serverSideEncryption": {"kmsKeyId": "alias/backups"}}}}),
            message: "spec.s3.serverSideEncryption.kmsKeyId: kmsKeyId is only valid with algorithm aws:kms",
        },
        Broken {
            what: "a prefix escaping upwards",
            base: policy,
            patch: json!({"spec": {"s3": {"prefix": "backups/../other"}}}),
            message: "spec.s3.prefix: prefix must not contain '..' or '//'",
        },
        Broken {
            what: "a restore-test target that is both ephemeral and existing",
            base: policy,
            patch: json!({"spec": {"restoreTest": {"target": {"existing": {"uriSecretRef": {"name": "scratch", "key": "uri"}}}}}}),
            message: "spec.restoreTest.target: set exactly one of ephemeral or existing",
        },
        Broken {
            what: "an existing restore-test server without a database",
            base: policy,
            patch: json!({"spec": {"restoreTest": {"target": {"ephemeral": null, "existing": {"host": "scratch", "user": "tidemark"}}}}}),
            message: "spec.restoreTest.target.existing.database: database is required when host is set",
        },
        Broken {
            what: "a source that is both a policy and an explicit location",
            base: restore,
            patch: json!({"spec": {"source": {"explicit": {"s3": {"bucket": "old-backups"}, "policyNamespace": "webshop", "policyName": "webshop"}}}}),
            message: "spec.source: set exactly one of source.policyRef or source.explicit",
        },
        Broken {
            what: "two backup selectors",
            base: restore,
            patch: json!({"spec": {"backup": {"key": "postgres/webshop/webshop/20261123T090000Z.dump.zst"}}}),
            message: "spec.backup: set exactly one of backup.latest (true), backup.key or backup.before",
        },
        Broken {
            what: "no backup selector (latest: false)",
            base: restore,
            patch: json!({"spec": {"backup": {"latest": false}}}),
            message: "spec.backup: set exactly one of backup.latest (true), backup.key or backup.before",
        },
        Broken {
            what: "an encrypted policy's restore test without the identity",
            base: policy,
            patch: json!({"spec": {"restoreTest": {"decryptionIdentitySecretRef": null}}}),
            message: "spec.restoreTest: restoreTest.decryptionIdentitySecretRef is required when encryption is set",
        },
        Broken {
            what: "a target without a database",
            base: restore,
            patch: json!({"spec": {"target": {"connection": {"host": null, "database": null, "userSecretRef": null, "passwordSecretRef": null}}}}),
            message: "spec.target: target.connection.database is required",
        },
        Broken {
            what: "allDatabases beside backup.database",
            base: restore,
            patch: json!({"spec": {"backup": {"allDatabases": true, "database": "shop"}, "target": {"connection": {"database": null}}}}),
            message: "spec.backup: set at most one of backup.database and backup.allDatabases",
        },
        Broken {
            what: "allDatabases with a target database",
            base: restore,
            patch: json!({"spec": {"backup": {"allDatabases": true}}}),
            message: "spec.target: with backup.allDatabases each database is restored into the database of the same name",
        },
        Broken {
            what: "allDatabases with selected tables",
            base: restore,
            patch: json!({"spec": {"backup": {"allDatabases": true}, "target": {"connection": {"database": null}}, "mode": {"tables": ["public.orders"]}}}),
            message: "spec.mode: mode.tables cannot be combined with backup.allDatabases",
        },
        Broken {
            what: "clean with a data-only restore",
            base: restore,
            patch: json!({"spec": {"mode": {"content": "DataOnly", "clean": true}}}),
            message: "spec.mode.clean: mode.clean: true is only valid with content Full",
        },
        Broken {
            what: "truncate with a full restore",
            base: restore,
            patch: json!({"spec": {"mode": {"truncate": true}}}),
            message: "spec.mode.truncate: truncate is only valid with content DataOnly",
        },
    ]
}

fn broken(case: &Broken) -> Value {
    let mut obj = example_object(case.base);
    merge(&mut obj, &case.patch);
    obj
}

#[test]
fn each_broken_example_is_rejected_by_cel_with_a_message_naming_the_field() {
    for case in cel_cases() {
        let obj = broken(&case);
        let kind = obj["kind"].as_str().unwrap().to_string();
        let errors = cel_errors(&kind, &obj, None);
        let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains(case.message)),
            "{}: expected {:?}, got {messages:#?}",
            case.what,
            case.message
        );
        // The object is otherwise well-formed: the schema alone does not catch it.
        assert!(
            schema_errors(&kind, &obj).is_empty(),
            "{}: schema also rejects it",
            case.what
        );
    }
}

#[test]
fn data_only_and_schema_only_restores_need_no_clean_field() {
    for content in ["DataOnly", "SchemaOnly"] {
        for clean in [Value::Null, json!(false)] {
            let mut obj = example_object("restore-latest.yaml");
            merge(
                &mut obj,
                &json!({"spec": {"mode": {"content": content, "clean": clean}}}),
            );
            let errors = cel_errors("RestoreRequest", &obj, None);
            assert!(errors.is_empty(), "{content} clean={clean}: {errors:?}");
            assert!(schema_errors("RestoreRequest", &obj).is_empty());
        }
    }
}

/// Every `x-kubernetes-validations` rule in a schema.
fn rules(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(list) = map
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
            {
                for rule in list {
                    out.insert(rule["rule"].as_str().unwrap().to_string());
                }
            }
            map.values().for_each(|v| rules(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| rules(v, out)),
        _ => {}
    }
}

#[test]
fn every_cel_rule_has_a_rejected_counter_example() {
    let mut all = BTreeSet::new();
    rules(&schema_of("backuppolicies"), &mut all);
    rules(&schema_of("restorerequests"), &mut all);
    let mut covered = BTreeSet::new();
    for case in cel_cases() {
        let obj = broken(&case);
        for (rule, _) in cel_errors(obj["kind"].as_str().unwrap(), &obj, None) {
            covered.insert(rule);
        }
    }
    covered.insert("self == oldSelf".to_string()); // covered by the update test below
    let uncovered: Vec<_> = all.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "rules without a counter-example: {uncovered:#?}"
    );
}

#[test]
fn a_restore_request_spec_cannot_change_after_creation() {
    let old = example_object("restore-latest.yaml");
    let mut new = old.clone();
    merge(
        &mut new,
        &json!({"spec": {"backup": {"latest": null, "before": "2026-11-23T09:00:00Z"}}}),
    );
    let errors = cel_errors("RestoreRequest", &new, Some(&old));
    assert!(
        errors
            .iter()
            .any(|(_, m)| m.contains("spec: RestoreRequest spec is immutable once created")),
        "{errors:#?}"
    );
    // Re-applying the same spec (e.g. from GitOps) is fine.
    assert!(cel_errors("RestoreRequest", &old, Some(&old)).is_empty());
}

#[test]
fn a_backup_policy_spec_can_change() {
    let old = example_object("webshop-hourly.yaml");
    let mut new = old.clone();
    merge(&mut new, &json!({"spec": {"schedule": "30 * * * *"}}));
    assert!(cel_errors("BackupPolicy", &new, Some(&old)).is_empty());
}

#[test]
fn schema_rejects_malformed_values_naming_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "webshop-hourly.yaml",
            json!({"spec": {"schedule": "every hour"}}),
            "/spec/schedule",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"s3": {"bucket": "Bad_Bucket"}}}),
            "/spec/s3/bucket",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"rpo": "1 hour"}}),
            "/spec/rpo",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"verification": {"minSize": "lots"}}}),
            "/spec/verification/minSize",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"s3": {"storageClass": "COLD"}}}),
            "/spec/s3/storageClass",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"database": {"port": 70000}}}),
            "/spec/database/port",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"retention": {"daily": -1}}}),
            "/spec/retention/daily",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"deadlineSeconds": 5}}),
            "/spec/deadlineSeconds",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"encryption": {"recipientsSecretRef": null, "recipients": ["ssh-rsa AAAA"]}}}),
            "/spec/encryption/recipients/0",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"dump": {"format": "tar"}}}),
            "/spec/dump/format",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"retention": {"hourlyy": 3}}}),
            "/spec/retention",
        ),
        (
            "webshop-hourly.yaml",
            json!({"spec": {"s3": null}}),
            "/spec",
        ),
        (
            "restore-latest.yaml",
            json!({"spec": {"backup": {"latest": null, "before": "yesterday"}}}),
            "/spec/backup/before",
        ),
        (
            "restore-latest.yaml",
            json!({"spec": {"mode": {"content": "Partial"}}}),
            "/spec/mode/content",
        ),
        (
            "restore-latest.yaml",
            json!({"spec": {"mode": {"tables": ["orders"]}}}),
            "/spec/mode/tables/0",
        ),
        (
            "restore-latest.yaml",
            json!({"spec": {"stopWriters": [{"kind": "DaemonSet", "name": "x"}]}}),
            "/spec/stopWriters/0/kind",
        ),
    ];
    for (base, patch, path) in cases {
        let mut obj = example_object(base);
        merge(&mut obj, &patch);
        let errors = schema_errors(obj["kind"].as_str().unwrap(), &obj);
        let wanted = format!("{path}:");
        assert!(
            errors.iter().any(|e| e.starts_with(&wanted)),
            "{patch}: expected an error at {path:?}, got {errors:#?}"
        );
    }
}
