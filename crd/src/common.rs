//! Building blocks shared by both resources: Secret references, database connections,
//! S3 locations, Job templates and result records.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, ResourceRequirements, Toleration,
};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Regular expression for a duration such as `1h`, `90m`, `2h30m`, `45s`, `2d`: the grammar
/// of [`crate::units::parse_duration`] (Go's units plus `d` for 24 hours), so what the API
/// server accepts is exactly what the operator and the runner read.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$";

/// Regular expression for a Kubernetes quantity of bytes such as `1Mi`, `500M`, `1048576`.
pub const QUANTITY_PATTERN: &str = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$";

/// Regular expression for a five-field cron expression or an `@hourly`-style macro.
pub const CRON_PATTERN: &str =
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$";

/// Regular expression for a DNS-1123 subdomain (names of Kubernetes objects).
pub const NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

/// A key in a Secret in the same namespace as the resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret, in the same namespace as the resource.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = crate::common::NAME_PATTERN)
    )]
    pub name: String,
    /// Key inside the Secret's data.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// TLS mode for connections to PostgreSQL, as libpq's `sslmode`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS only if the server insists.
    Allow,
    /// Use TLS when the server supports it (libpq's default).
    #[default]
    Prefer,
    /// Always use TLS; do not verify the server certificate.
    Require,
    /// Always use TLS and verify the server certificate against the CA.
    VerifyCa,
    /// Always use TLS, verify the certificate and that it matches the host name.
    VerifyFull,
}

impl SslMode {
    /// Every mode, in libpq's order.
    pub const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// libpq's spelling (`PGSSLMODE`), the same as the API's.
    pub fn as_libpq(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Parses libpq's spelling.
    pub fn from_libpq(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_libpq() == s)
    }
}

/// How to reach a PostgreSQL database. Either `uriSecretRef` (a complete
/// `postgresql://` connection URI kept in a Secret), or `host` plus `database` with
/// the user and password from Secrets (a BackupPolicy with `databases` names its
/// databases there instead). The operator never reads these Secrets: it maps
/// them into the runner Job's environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.uriSecretRef) != has(self.host)").message("set exactly one of uriSecretRef or host"),
    validation = Rule::new("!has(self.host) || has(self.user) || has(self.userSecretRef)").message("user or userSecretRef is required when host is set"),
    validation = Rule::new("!(has(self.user) && has(self.userSecretRef))").message("set at most one of user or userSecretRef"),
    validation = Rule::new("!has(self.caSecretRef) || self.sslMode in ['verify-ca', 'verify-full', 'require']").message("caSecretRef needs sslMode require, verify-ca or verify-full").field_path(".caSecretRef"),
)]
pub struct DatabaseConnection {
    /// Host name or address of the PostgreSQL server (e.g. a Service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub host: Option<String>,
    /// TCP port of the PostgreSQL server.
    #[serde(default = "default_pg_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Name of the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub database: Option<String>,
    /// User name, when it is not secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub user: Option<String>,
    /// User name from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_secret_ref: Option<SecretKeyRef>,
    /// Password from a Secret key. Omit it when the server does not ask for one (e.g.
    /// `trust` authentication) or when the password is in `uriSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// A complete connection URI (`postgresql://user:password@host:port/database?…`)
    /// from a Secret key. Replaces host, port, database, user and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_secret_ref: Option<SecretKeyRef>,
    /// TLS mode (libpq `sslmode`).
    #[serde(default)]
    pub ssl_mode: SslMode,
    /// PEM CA certificate to verify the server with, from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
}

fn default_pg_port() -> i32 {
    5432
}

/// Server-side encryption applied by S3 to every stored object.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum SseAlgorithm {
    /// SSE-S3 with keys managed by the storage service.
    #[default]
    #[serde(rename = "AES256")]
    Aes256,
    /// SSE-KMS with a customer-managed key (`kmsKeyId`).
    #[serde(rename = "aws:kms")]
    AwsKms,
    /// No server-side encryption header (for S3-compatible servers without SSE).
    None,
}

/// Server-side encryption settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.algorithm == 'aws:kms' || !has(self.kmsKeyId)").message("kmsKeyId is only valid with algorithm aws:kms").field_path(".kmsKeyId"))]
pub struct ServerSideEncryption {
    /// `AES256` (SSE-S3), `aws:kms` (SSE-KMS) or `None`.
    #[serde(default)]
    pub algorithm: SseAlgorithm,
    /// KMS key id or ARN for `aws:kms`; the bucket's default KMS key when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub kms_key_id: Option<String>,
}

/// S3 storage class of stored objects.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    #[default]
    Standard,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    GlacierIr,
    ReducedRedundancy,
}

/// Static S3 credentials from Secret keys. When omitted, the runner uses the AWS
/// SDK's default credential chain (web identity / IRSA, EKS Pod Identity, profile).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Credentials {
    /// Access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id_secret_ref: SecretKeyRef,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key_secret_ref: SecretKeyRef,
    /// Optional session token (`AWS_SESSION_TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_secret_ref: Option<SecretKeyRef>,
}

/// Where backups are stored: an S3 bucket (AWS or any S3-compatible service such as
/// MinIO, SeaweedFS, Ceph RGW, DigitalOcean Spaces or Cloudflare R2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.prefix.contains('..') && !self.prefix.contains('//')").message("prefix must not contain '..' or '//'").field_path(".prefix"))]
pub struct S3Destination {
    /// Bucket name (3–63 characters: lower-case letters, digits, dots and hyphens).
    #[schemars(
        length(min = 3, max = 63),
        regex(pattern = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    )]
    pub bucket: String,
    /// Key prefix. Objects are stored under `<prefix>/<namespace>/<policy>/`.
    #[serde(default = "default_prefix")]
    #[schemars(
        length(max = 512),
        regex(pattern = r"^([A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*)?$")
    )]
    pub prefix: String,
    /// Region of the bucket.
    #[serde(default = "default_region")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// Endpoint URL for S3-compatible services; AWS's regional endpoint when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s/$.?#].[^\s]*$"))]
    pub endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint` (MinIO, SeaweedFS).
    #[serde(default)]
    pub force_path_style: bool,
    /// Static credentials; the SDK's default credential chain when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<S3Credentials>,
    /// Server-side encryption of every object (`AES256`, SSE-S3, by default).
    #[serde(default)]
    pub server_side_encryption: ServerSideEncryption,
    /// Storage class of every object.
    #[serde(default)]
    pub storage_class: StorageClass,
    /// PEM CA bundle to trust for the endpoint's TLS certificate, from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_secret_ref: Option<SecretKeyRef>,
}

fn default_prefix() -> String {
    "tidemark".to_string()
}

fn default_region() -> String {
    "us-east-1".to_string()
}

/// How the Jobs that run the runner are shaped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplate {
    /// Runner image; the operator's default runner image when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    /// Image pull policy of the runner container (`Always`, `IfNotPresent`, `Never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(Always|IfNotPresent|Never)$"))]
    pub image_pull_policy: Option<String>,
    /// Secrets to pull the runner image with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// CPU and memory requests and limits of the runner container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node labels the Job's pod must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the Job's pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity of the Job's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Service account of the Job's pod (e.g. one bound to an IAM role via IRSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::common::NAME_PATTERN))]
    pub service_account_name: Option<String>,
    /// Priority class of the Job's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Extra labels on the Job and its pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the Job and its pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Pod retries before a run counts as failed.
    #[serde(default = "default_backoff_limit")]
    #[schemars(range(min = 0, max = 10))]
    pub backoff_limit: i32,
    /// Seconds a finished Job is kept before Kubernetes deletes it.
    #[serde(default = "default_ttl")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: i32,
}

// Not derived: an omitted `jobTemplate` must get the same retry and TTL defaults as
// omitted fields inside it (a derived default would be 0 and 0).
impl Default for JobTemplate {
    fn default() -> Self {
        Self {
            image: None,
            image_pull_policy: None,
            image_pull_secrets: Vec::new(),
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: None,
            service_account_name: None,
            priority_class_name: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            backoff_limit: default_backoff_limit(),
            ttl_seconds_after_finished: default_ttl(),
        }
    }
}

fn default_backoff_limit() -> i32 {
    1
}

fn default_ttl() -> i32 {
    86_400
}

/// Row-count difference of one table between a manifest and a restored database.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableMismatch {
    /// `schema.table`.
    pub table: String,
    /// Rows recorded in the backup's manifest.
    pub expected: i64,
    /// Rows found after the restore (`-1` when the table is missing).
    pub actual: i64,
}

/// A reference to a Job the operator created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    /// Name of the Job.
    pub name: String,
    /// What the Job does (`backup`, `prune`, `verify`, `restore-test`, `restore`, …).
    pub kind: String,
    /// The scheduled time the Job belongs to, if it was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<chrono::DateTime<chrono::Utc>>,
}
