//! How the enums of the API travel through the runner's environment: one spelling per
//! value, used by the operator when it builds a Job ([`DumpFormat::env_value`], …) and
//! by the runner when it parses its command line (with the `clap` feature, each enum is
//! a `clap::ValueEnum` with exactly these names and aliases).

pub use crate::backup_policy::{CompressionAlgorithm, DumpFormat, RowCountMode};
pub use crate::common::{SseAlgorithm, StorageClass};
pub use crate::restore_request::{RestoreContent, RoleHandling};

impl CompressionAlgorithm {
    /// File-name extension of the compression layer (empty for none).
    pub fn extension(self) -> &'static str {
        match self {
            CompressionAlgorithm::Zstd => ".zst",
            CompressionAlgorithm::Gzip => ".gz",
            CompressionAlgorithm::None => "",
        }
    }
}

impl RestoreContent {
    /// The name reports use: the API's spelling (`Full`, `DataOnly`, `SchemaOnly`).
    pub fn report_name(self) -> &'static str {
        match self {
            RestoreContent::Full => "Full",
            RestoreContent::DataOnly => "DataOnly",
            RestoreContent::SchemaOnly => "SchemaOnly",
        }
    }
}

/// Where a restore test's scratch database lives (`TIDEMARK_RESTORE_TEST_TARGET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScratchTarget {
    /// A freshly started empty server next to the runner (a sidecar), waited for.
    Ephemeral,
    /// A configured server.
    Existing,
}

/// Implements `ALL`, `env_value`, `from_env_value` and (feature `clap`) `clap::ValueEnum`
/// from one table of names and aliases. `env_value`'s match is exhaustive, so a variant
/// missing from the table (and so from `ALL`) does not compile.
macro_rules! env_values {
    ($ty:ident { $($variant:ident => $name:literal $(| $alias:literal)*,)+ }) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The spelling in the runner's environment and command line.
            pub fn env_value(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }

            /// The value spelled `s` (its name or one of its aliases, exactly).
            pub fn from_env_value(s: &str) -> Option<Self> {
                $(if s == $name $(|| s == $alias)* {
                    return Some($ty::$variant);
                })+
                None
            }
        }

        #[cfg(feature = "clap")]
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                Self::ALL
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self {
                    $($ty::$variant => clap::builder::PossibleValue::new($name)$(.alias($alias))*,)+
                })
            }
        }
    };
}

env_values!(DumpFormat {
    Custom => "custom",
    Plain => "plain",
});

env_values!(CompressionAlgorithm {
    Zstd => "zstd",
    Gzip => "gzip",
    None => "none",
});

env_values!(RowCountMode {
    Exact => "exact",
    Estimate => "estimate",
    Off => "off",
});

env_values!(SseAlgorithm {
    Aes256 => "AES256" | "aes256",
    AwsKms => "aws:kms" | "kms",
    None => "none",
});

env_values!(StorageClass {
    Standard => "STANDARD",
    StandardIa => "STANDARD_IA",
    OnezoneIa => "ONEZONE_IA",
    IntelligentTiering => "INTELLIGENT_TIERING",
    GlacierIr => "GLACIER_IR",
    ReducedRedundancy => "REDUCED_REDUNDANCY",
});

env_values!(RestoreContent {
    Full => "full",
    DataOnly => "data-only",
    SchemaOnly => "schema-only",
});

env_values!(RoleHandling {
    Require => "require",
    CreateMissing => "create-missing",
});

env_values!(ScratchTarget {
    Ephemeral => "ephemeral",
    Existing => "existing",
});

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round_trips<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        name: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(parse(name(v)), Some(v), "{v:?}");
        }
        assert_eq!(parse("no-such-value"), None);
    }

    #[test]
    fn every_value_reads_back_from_its_spelling() {
        round_trips(
            DumpFormat::ALL,
            DumpFormat::env_value,
            DumpFormat::from_env_value,
        );
        round_trips(
            CompressionAlgorithm::ALL,
            CompressionAlgorithm::env_value,
            CompressionAlgorithm::from_env_value,
        );
        round_trips(
            RowCountMode::ALL,
            RowCountMode::env_value,
            RowCountMode::from_env_value,
        );
        round_trips(
            SseAlgorithm::ALL,
            SseAlgorithm::env_value,
            SseAlgorithm::from_env_value,
        );
        round_trips(
            StorageClass::ALL,
            StorageClass::env_value,
            StorageClass::from_env_value,
        );
        round_trips(
            RestoreContent::ALL,
            RestoreContent::env_value,
            RestoreContent::from_env_value,
        );
        round_trips(
            ScratchTarget::ALL,
            ScratchTarget::env_value,
            ScratchTarget::from_env_value,
        );
    }

    #[test]
    fn aliases_and_spellings_the_runner_has_always_accepted() {
        assert_eq!(
            SseAlgorithm::from_env_value("kms"),
            Some(SseAlgorithm::AwsKms)
        );
        assert_eq!(
            SseAlgorithm::from_env_value("aes256"),
            Some(SseAlgorithm::Aes256)
        );
        assert_eq!(SseAlgorithm::None.env_value(), "none");
        assert_eq!(RestoreContent::DataOnly.env_value(), "data-only");
        assert_eq!(StorageClass::GlacierIr.env_value(), "GLACIER_IR");
    }
}
