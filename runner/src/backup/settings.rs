//! Validated settings of one backup run, built from what the command line parsed
//! ([`Request`]) before any connection is made: every configuration error surfaces
//! here, with exit code 2.

use tidemark_crd::contract::env as var;
use tidemark_crd::contract::manifest::{CompressionTag, DumpFormatTag, RowCountModeTag};

use std::path::PathBuf;

use tidemark_crd::contract::values::{CompressionAlgorithm, DumpFormat, RowCountMode};

use crate::error::{Error, Result};
use crate::inventory::PolicyRef;
use crate::pg::connect::{DbSettings, DbTarget};
use crate::pg::filter::TableFilter;
use crate::pipeline::part_size::{MAX_PART_SIZE, MIN_PART_SIZE};
use crate::pipeline::stages::{CompressionSpec, parse_recipients};
use crate::s3::commit::Sha256Stamp;
use crate::s3::object::ObjectOptions;
use crate::s3::settings::S3Settings;
use tidemark_crd::units::ByteSize;

/// Largest accepted number of parts in flight.
pub const MAX_PARTS_IN_FLIGHT: usize = 64;

/// What is dumped and how the stream is compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpOptions {
    pub format: DumpFormat,
    pub compression: CompressionAlgorithm,
    pub compression_level: Option<i32>,
    pub compression_threads: Option<u32>,
    pub include_schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub include_tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    pub row_count_mode: RowCountMode,
}

/// Multipart upload tuning and where the data object's SHA-256 is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadOptions {
    pub part_size: u64,
    pub parts_in_flight: usize,
    pub sha256_stamp: Sha256Stamp,
}

/// Which databases one run backs up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Databases {
    /// The one database of the connection (a single-database policy).
    #[default]
    Connection,
    /// These databases, in this order.
    Names(Vec<String>),
    /// Every non-template database that accepts connections, except these.
    All { exclude: Vec<String> },
}

impl Databases {
    /// From the command line: `names` (`TIDEMARK_DATABASES`), `all`
    /// (`TIDEMARK_DATABASES_ALL`) and `exclude` (`TIDEMARK_DATABASES_EXCLUDE`); blank
    /// entries are ignored. `pg_database` is the connection's own database setting,
    /// which a selection replaces.
    pub fn new(
        names: &[String],
        all: bool,
        exclude: &[String],
        pg_database: Option<&str>,
    ) -> Result<Self> {
        let clean = |list: &[String]| -> Result<Vec<String>> {
            let mut out: Vec<String> = Vec::new();
            for name in list.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                check_database_name(name)?;
                if !out.iter().any(|o| o == name) {
                    out.push(name.to_string());
                }
            }
            Ok(out)
        };
        let names = clean(names)?;
        let exclude = clean(exclude)?;
        let selection = match (names.is_empty(), all) {
            (true, false) if exclude.is_empty() => return Ok(Databases::Connection),
            (true, false) => {
                return Err(Error::config(format!(
                    "{} applies only with {}",
                    var::DATABASES_EXCLUDE,
                    var::DATABASES_ALL
                )));
            }
            (false, true) => {
                return Err(Error::config(format!(
                    "{} and {} exclude each other",
                    var::DATABASES,
                    var::DATABASES_ALL
                )));
            }
            (false, false) if !exclude.is_empty() => {
                return Err(Error::config(format!(
                    "{} applies only with {}",
                    var::DATABASES_EXCLUDE,
                    var::DATABASES_ALL
                )));
            }
            (false, false) => Databases::Names(names),
            (true, true) => Databases::All { exclude },
        };
        if pg_database.is_some_and(|d| !d.trim().is_empty()) {
            return Err(Error::config(format!(
                "{} names the one database of a single-database backup; with {} or {} leave it unset",
                var::PG_DATABASE,
                var::DATABASES,
                var::DATABASES_ALL
            )));
        }
        Ok(selection)
    }

    /// The databases of a run, given the server's non-template databases (`listed`,
    /// needed only for [`Databases::All`]). Pure.
    pub fn resolve(&self, listed: &[String]) -> Vec<String> {
        match self {
            Databases::Connection => Vec::new(),
            Databases::Names(names) => names.clone(),
            Databases::All { exclude } => {
                let mut all: Vec<String> = listed
                    .iter()
                    .filter(|d| !exclude.contains(d))
                    .cloned()
                    .collect();
                all.sort();
                all.dedup();
                all
            }
        }
    }
}

/// PostgreSQL's limit: 1 to 63 bytes, no control characters.
fn check_database_name(name: &str) -> Result<()> {
    if name.len() > 63 || name.chars().any(char::is_control) {
        return Err(Error::config(format!(
            "database name {name:?} is not valid: 1 to 63 bytes without control characters"
        )));
    }
    Ok(())
}

/// What the command line says about one backup run (parsed, not yet validated).
#[derive(Clone, Debug)]
pub struct Request {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    pub db: DbSettings,
    /// Root of the client installations: `<root>/<major>/bin/pg_dump`.
    pub pg_bin_root: PathBuf,
    pub dump: DumpOptions,
    pub upload: UploadOptions,
    /// age recipients, separated by commas or newlines; empty: unencrypted.
    pub age_recipients: String,
    /// Which databases the run backs up.
    pub databases: Databases,
}

/// Everything a backup run needs, validated.
pub struct Settings {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    pub pg_bin_root: PathBuf,
    pub dump: DumpOptions,
    pub upload: UploadOptions,
    pub db: DbTarget,
    pub filter: TableFilter,
    pub compression: CompressionSpec,
    pub recipients: Vec<age::x25519::Recipient>,
    pub object: ObjectOptions,
    pub databases: Databases,
}

impl Settings {
    /// Validates `request`.
    pub fn new(request: Request) -> Result<Self> {
        let Request {
            policy,
            s3,
            db,
            pg_bin_root,
            dump,
            upload,
            age_recipients,
            databases,
        } = request;
        for (name, value) in [
            (var::POLICY_NAMESPACE, &policy.namespace),
            (var::POLICY_NAME, &policy.name),
            (var::S3_BUCKET, &s3.bucket),
        ] {
            if value.trim().is_empty() || value.contains('/') {
                return Err(Error::config(format!(
                    "{name} must be a non-empty name without `/`"
                )));
            }
        }
        let part_size = upload.part_size;
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(Error::config(format!(
                "TIDEMARK_PART_SIZE {} is outside S3's part limits (5MiB to 5GiB)",
                ByteSize(part_size)
            )));
        }
        let parts_in_flight = upload.parts_in_flight;
        if !(1..=MAX_PARTS_IN_FLIGHT).contains(&parts_in_flight) {
            return Err(Error::config(format!(
                "TIDEMARK_PARTS_IN_FLIGHT {parts_in_flight} must be between 1 and {MAX_PARTS_IN_FLIGHT}"
            )));
        }
        let d = &dump;
        Ok(Self {
            db: DbTarget::resolve(&db)?,
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
            recipients: parse_recipients(&age_recipients)?,
            object: ObjectOptions::new(&s3)?,
            policy,
            s3,
            pg_bin_root,
            dump,
            upload,
            databases,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn selections_parse_and_conflicts_are_refused() {
        assert_eq!(
            Databases::new(&[], false, &[], Some("app")).unwrap(),
            Databases::Connection
        );
        assert_eq!(
            Databases::new(&v(&["a", " b ", "a", ""]), false, &[], None).unwrap(),
            Databases::Names(v(&["a", "b"]))
        );
        assert_eq!(
            Databases::new(&[], true, &v(&["x"]), None).unwrap(),
            Databases::All { exclude: v(&["x"]) }
        );
        for (names, all, exclude, db) in [
            (v(&["a"]), true, v(&[]), None),
            (v(&["a"]), false, v(&["x"]), None),
            (v(&[]), false, v(&["x"]), None),
            (v(&["a"]), false, v(&[]), Some("app")),
            (v(&[&"n".repeat(64)]), false, v(&[]), None),
        ] {
            assert!(Databases::new(&names, all, &exclude, db).is_err());
        }
    }

    #[test]
    fn all_takes_the_listed_databases_by_name_without_the_excluded() {
        let all = Databases::All {
            exclude: v(&["scratch"]),
        };
        assert_eq!(
            all.resolve(&v(&["shop", "postgres", "scratch", "audit"])),
            v(&["audit", "postgres", "shop"])
        );
        let names = Databases::Names(v(&["b", "a"]));
        assert_eq!(names.resolve(&v(&["x"])), v(&["b", "a"]));
    }
}
