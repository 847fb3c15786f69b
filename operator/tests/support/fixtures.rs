//! The example objects of `examples/` and the golden Job files of `tests/golden/`.

use std::path::PathBuf;

use k8s_openapi::api::batch::v1::Job;
use serde::de::DeserializeOwned;
use tidemark_crd::BackupPolicy;
use tidemark_operator::jobs::JobDefaults;

/// The operator crate's directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/<file>` parsed as `T` (a typed object or a `serde_json::Value`).
pub fn example<T: DeserializeOwned>(file: &str) -> T {
    let text = std::fs::read_to_string(root().join("../examples").join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap()
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
    }
}

/// Compares with the committed golden file; `TIDEMARK_UPDATE_GOLDEN=1` rewrites it.
pub fn golden(file: &str, job: &Job) {
    let path = root().join("tests/golden").join(file);
    let rendered = serde_yaml::to_string(job).unwrap();
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
