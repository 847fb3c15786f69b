//! `spec.databases`: several databases of one server in one policy.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Pattern of a database name in a selection: 1 to 63 characters, no control
/// characters (PostgreSQL's own limit is 63 bytes; the runner checks bytes).
pub const DATABASE_NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f]{1,63}$";

/// Which databases of the server one run backs up: a list of names, or every
/// database that accepts connections except templates (`template0`, `template1`, any
/// `datistemplate`) and the ones in `exclude`. Each database gets its own consistent
/// snapshot, data object and manifest; all share the run's one timestamp.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.names) && size(self.names) > 0) != (has(self.all) && self.all)")
        .message("set exactly one of names or all: true"),
    validation = Rule::new("!has(self.exclude) || size(self.exclude) == 0 || (has(self.all) && self.all)")
        .message("exclude applies only with all: true")
        .field_path(".exclude"),
)]
pub struct DatabaseSelection {
    /// These databases, backed up in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        inner(length(min = 1, max = 63), regex(pattern = DATABASE_NAME_PATTERN))
    )]
    pub names: Vec<String>,
    /// Every database of the server (by name order) except templates and `exclude`;
    /// `postgres` is included unless excluded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// With `all`: databases left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        inner(length(min = 1, max = 63), regex(pattern = DATABASE_NAME_PATTERN))
    )]
    pub exclude: Vec<String>,
}
