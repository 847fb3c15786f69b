//! Operator-wide defaults of the Jobs: the runner image and the pod settings the chart
//! sets for every runner Job (`runner.imagePullSecrets`, `runner.resources`,
//! `runner.nodeSelector`, `runner.tolerations`), which a policy's or request's
//! `jobTemplate` overrides setting by setting.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, ResourceRequirements, Toleration};
use serde::Deserialize;
use tidemark_crd::common::JobTemplate;

/// Operator-wide settings that Jobs need.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobDefaults {
    /// Runner image used when the policy or request does not name one.
    pub runner_image: String,
    /// Pod settings used when the policy or request sets none of its own.
    pub pod: PodDefaults,
}

/// Pod settings of every runner Job unless its `jobTemplate` sets its own
/// (`--job-defaults` / `TIDEMARK_JOB_DEFAULTS`, a JSON object with these keys).
///
/// Each setting is taken as a whole: a `jobTemplate` with any toleration uses only its own
/// tolerations, one with `resources` only its own resources, and so on.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodDefaults {
    /// Secrets to pull the runner image with.
    #[serde(default)]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Requests and limits of the runner container.
    #[serde(default)]
    pub resources: Option<ResourceRequirements>,
    /// Node labels the Job's pod must match.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the Job's pod.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
}

/// Why `--job-defaults` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "--job-defaults (TIDEMARK_JOB_DEFAULTS) is not a valid JSON object of imagePullSecrets, resources, nodeSelector and tolerations: {0}"
)]
pub struct PodDefaultsError(#[source] serde_json::Error);

impl PodDefaults {
    /// Parses the `--job-defaults` JSON; blank means no defaults.
    pub fn from_json(text: &str) -> Result<Self, PodDefaultsError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(text).map_err(PodDefaultsError)
    }

    /// `template` with every pod setting it leaves empty taken from these defaults.
    pub fn apply(&self, template: &JobTemplate) -> JobTemplate {
        let mut t = template.clone();
        if t.image_pull_secrets.is_empty() {
            t.image_pull_secrets.clone_from(&self.image_pull_secrets);
        }
        if t.resources.is_none() {
            t.resources.clone_from(&self.resources);
        }
        if t.node_selector.is_empty() {
            t.node_selector.clone_from(&self.node_selector);
        }
        if t.tolerations.is_empty() {
            t.tolerations.clone_from(&self.tolerations);
        }
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_no_defaults() {
        assert_eq!(PodDefaults::from_json("").unwrap(), PodDefaults::default());
        assert_eq!(
            PodDefaults::from_json(" {} ").unwrap(),
            PodDefaults::default()
        );
    }

    #[test]
    fn parses_the_chart_keys() {
        let d = PodDefaults::from_json(
            r#"{"imagePullSecrets":[{"name":"regcred"}],"resources":{"limits":{"memory":"1Gi"}},
                "nodeSelector":{"pool":"backup"},"tolerations":[{"key":"dedicated","operator":"Exists"}]}"#,
        )
        .unwrap();
        assert_eq!(d.image_pull_secrets[0].name, "regcred");
        assert_eq!(
            d.resources.unwrap().limits.unwrap()["memory"].0,
            "1Gi".to_string()
        );
        assert_eq!(d.node_selector["pool"], "backup");
        assert_eq!(d.tolerations[0].key.as_deref(), Some("dedicated"));
    }

    #[test]
    fn unknown_keys_and_bad_json_are_errors_naming_the_flag() {
        let typo = PodDefaults::from_json(r#"{"nodeSelectors":{}}"#).unwrap_err();
        assert!(typo.to_string().contains("--job-defaults"), "{typo}");
        assert!(typo.to_string().contains("nodeSelectors"), "{typo}");
        assert!(PodDefaults::from_json("nodeSelector: x").is_err());
    }
}
