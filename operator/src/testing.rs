//! Objects shared by the unit tests of several modules.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tidemark_crd::BackupPolicy;

/// A minimal valid BackupPolicy `shop/web` (uid `u`, generation 3, resourceVersion
/// `10`, `consecutiveFailures` 0), after `edit` changed its JSON.
pub fn minimal_policy(edit: impl FnOnce(&mut Value)) -> BackupPolicy {
    let mut v = json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u", "generation": 3,
                     "resourceVersion": "10"},
        "spec": {
            "schedule": "0 * * * *",
            "database": {"host": "db", "database": "web",
                         "userSecretRef": {"name": "db", "key": "u"},
                         "passwordSecretRef": {"name": "db", "key": "p"}},
            "s3": {"bucket": "b", "credentials": {
                "accessKeyIdSecretRef": {"name": "s3", "key": "a"},
                "secretAccessKeySecretRef": {"name": "s3", "key": "s"}}}
        },
        "status": {"consecutiveFailures": 0}
    });
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}
