//! Where a restore's backups are: the bucket and the policy namespace/name of the key
//! layout, from the referenced BackupPolicy or from `source.explicit`.

use tidemark_crd::BackupPolicy;
use tidemark_crd::common::S3Destination;
use tidemark_crd::contract::keys::policy_prefix;
use tidemark_crd::restore_request::RestoreRequestSpec;

/// The bucket and key layout the runner lists and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupSource<'a> {
    pub s3: &'a S3Destination,
    pub policy_namespace: &'a str,
    pub policy_name: &'a str,
}

impl<'a> BackupSource<'a> {
    /// The source of `spec`: the explicit one, or the policy's (`policy` is the
    /// referenced BackupPolicy in `namespace`, when found).
    pub fn of(
        spec: &'a RestoreRequestSpec,
        namespace: &'a str,
        policy: Option<&'a BackupPolicy>,
    ) -> Option<Self> {
        if let Some(e) = &spec.source.explicit {
            return Some(Self {
                s3: &e.s3,
                policy_namespace: &e.policy_namespace,
                policy_name: &e.policy_name,
            });
        }
        let policy = policy?;
        Some(Self {
            s3: &policy.spec.s3,
            policy_namespace: policy.metadata.namespace.as_deref().unwrap_or(namespace),
            policy_name: policy.metadata.name.as_deref()?,
        })
    }

    /// `s3://bucket/prefix/namespace/policy/`, for messages.
    pub fn location(&self) -> String {
        format!(
            "s3://{}/{}",
            self.s3.bucket,
            policy_prefix(&self.s3.prefix, self.policy_namespace, self.policy_name)
        )
    }
}
