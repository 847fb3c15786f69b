//! Label sets of the operator's metrics.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

/// `namespace`, `policy`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    pub namespace: String,
    pub policy: String,
}

impl PolicyLabels {
    pub fn new(namespace: &str, policy: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            policy: policy.to_string(),
        }
    }
}

/// `namespace`, `policy`, `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub namespace: String,
    pub policy: String,
    pub kind: String,
}

/// `namespace`, `policy`, `kind`, `reason`: the most recent failure of a policy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub namespace: String,
    pub policy: String,
    pub kind: String,
    pub reason: String,
}

/// Outcome of a finished run: label value `succeeded` or `failed`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

impl Outcome {
    /// Both outcomes.
    pub const ALL: [Outcome; 2] = [Outcome::Succeeded, Outcome::Failed];

    /// `Succeeded` when `ok`, else `Failed`.
    pub fn of(ok: bool) -> Self {
        if ok { Self::Succeeded } else { Self::Failed }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// `namespace`, `policy`, `kind`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub namespace: String,
    pub policy: String,
    pub kind: String,
    pub outcome: Outcome,
}

/// `namespace`, `request`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub namespace: String,
    pub request: String,
}

/// `namespace`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RestoreLabels {
    pub namespace: String,
    pub outcome: Outcome,
}

/// `namespace`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabels {
    pub namespace: String,
}

/// `controller`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

/// `controller`, `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerErrorLabels {
    pub controller: String,
    pub reason: String,
}

/// `version`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
}
