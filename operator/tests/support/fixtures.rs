//! The example objects of `examples/` and the golden Job files of `tests/golden/`.

use std::path::PathBuf;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use serde::de::DeserializeOwned;
use tidemark_crd::BackupPolicy;
use tidemark_operator::runtime::job::JobDefaults;

/// The operator crate's directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/<file>` parsed as `T` (a typed object or a `serde_json::Value`).
pub fn example<T: DeserializeOwned>(file: &str) -> T {
    let text = std::fs::read_to_string(root().join("../examples").join(file)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// The webshop example policy with a uid (as if read from the API server).
pub fn webshop() -> BackupPolicy {
    let mut policy: BackupPolicy = example("webshop-hourly.yaml");
    policy.metadata.uid = Some("3f1c2a9e-0000-4000-8000-000000000001".into());
    policy
}

/// The operator defaults the golden Jobs were built with.
pub fn defaults() -> JobDefaults {
    JobDefaults {
        runner_image: "ghcr.io/tidemark-dev/tidemark-runner:0.1.0".into(),
        pod: Default::default(),
    }
}

/// Compares with the committed golden file; `TIDEMARK_UPDATE_GOLDEN=1` rewrites it.
pub fn golden(file: &str, job: &Job) {
    let path = root().join("tests/golden").join(file);
    let rendered = tidemark_crd::crdgen::to_yaml(job).unwrap();
    if std::env::var_os("TIDEMARK_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} differs; review and run with TIDEMARK_UPDATE_GOLDEN=1:\n{rendered}",
        path.display()
    );
}

/// Environment variables that carry credentials: only ever Secret references.
pub const SENSITIVE_ENV: [&str; 7] = [
    "PGPASSWORD",
    "PGUSER",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "TIDEMARK_DATABASE_URL",
    "TIDEMARK_AGE_IDENTITY",
];

/// Every [`SENSITIVE_ENV`] variable in `env` is a Secret reference, never a value.
pub fn assert_secret_refs(env: &[EnvVar]) {
    for var in env {
        if SENSITIVE_ENV.contains(&var.name.as_str()) {
            assert!(var.value.is_none(), "{} has a literal value", var.name);
            assert!(
                var.value_from.as_ref().unwrap().secret_key_ref.is_some(),
                "{}",
                var.name
            );
        }
    }
}
