//! Validated settings of one backup run, built from the command line before any
//! connection is made: every configuration error surfaces here, with exit code 2.

use tidemark_crd::contract::env as var;
use tidemark_crd::contract::manifest::{CompressionTag, DumpFormatTag, RowCountModeTag};

use tidemark_crd::contract::values::{CompressionAlgorithm, DumpFormat, RowCountMode};

use crate::cli::BackupArgs;
use crate::error::{Error, Result};
use crate::pg::connect::DbTarget;
use crate::pg::filter::TableFilter;
use crate::pipeline::part_size::{MAX_PART_SIZE, MIN_PART_SIZE};
use crate::pipeline::stages::{CompressionSpec, parse_recipients};
use crate::s3::object::ObjectOptions;

/// Largest accepted number of parts in flight.
pub const MAX_PARTS_IN_FLIGHT: usize = 64;

/// Everything a backup run needs, validated.
pub struct Settings {
    pub db: DbTarget,
    pub filter: TableFilter,
    pub compression: CompressionSpec,
    pub recipients: Vec<age::x25519::Recipient>,
    pub object: ObjectOptions,
    pub part_size: u64,
    pub parts_in_flight: usize,
}

impl Settings {
    /// Validates `args`.
    pub fn from_args(args: &BackupArgs) -> Result<Self> {
        for (name, value) in [
            (var::POLICY_NAMESPACE, &args.policy.policy_namespace),
            (var::POLICY_NAME, &args.policy.policy_name),
            (var::S3_BUCKET, &args.s3.bucket),
        ] {
            if value.trim().is_empty() || value.contains('/') {
                return Err(Error::config(format!(
                    "{name} must be a non-empty name without `/`"
                )));
            }
        }
        let part_size = args.upload.part_size.0;
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(Error::config(format!(
                "TIDEMARK_PART_SIZE {} is outside S3's part limits (5MiB to 5GiB)",
                args.upload.part_size
            )));
        }
        let parts_in_flight = args.upload.parts_in_flight;
        if !(1..=MAX_PARTS_IN_FLIGHT).contains(&parts_in_flight) {
            return Err(Error::config(format!(
                "TIDEMARK_PARTS_IN_FLIGHT {parts_in_flight} must be between 1 and {MAX_PARTS_IN_FLIGHT}"
            )));
        }
        let d = &args.dump;
        Ok(Self {
            db: DbTarget::resolve(&args.db)?,
            filter: TableFilter::new(
                &d.include_schemas,
                &d.exclude_schemas,
                &d.include_tables,
                &d.exclude_tables,
            ),
            compression: CompressionSpec::new(
                d.compression,
                d.compression_level,
                d.compression_threads,
            )?,
            recipients: parse_recipients(&args.age_recipients)?,
            object: ObjectOptions::from_args(&args.s3)?,
            part_size,
            parts_in_flight,
        })
    }
}

/// Contract tag of a dump format.
pub fn format_tag(f: DumpFormat) -> DumpFormatTag {
    match f {
        DumpFormat::Custom => DumpFormatTag::Custom,
        DumpFormat::Plain => DumpFormatTag::Plain,
    }
}

/// Contract tag of a compression.
pub fn compression_tag(c: CompressionAlgorithm) -> CompressionTag {
    match c {
        CompressionAlgorithm::Zstd => CompressionTag::Zstd,
        CompressionAlgorithm::Gzip => CompressionTag::Gzip,
        CompressionAlgorithm::None => CompressionTag::None,
    }
}

/// Contract tag of a row-count mode.
pub fn row_count_tag(m: RowCountMode) -> RowCountModeTag {
    match m {
        RowCountMode::Exact => RowCountModeTag::Exact,
        RowCountMode::Estimate => RowCountModeTag::Estimate,
        RowCountMode::Off => RowCountModeTag::Off,
    }
}
