//! Validated settings of a restore, built before any connection is made: every
//! configuration error surfaces here (exit code 2). The age identity is read from the
//! environment only and never appears in a message.

use std::str::FromStr;
use tidemark_crd::contract::env as var;

use tidemark_crd::contract::manifest::Manifest;

use std::path::PathBuf;

use tidemark_crd::contract::values::{RestoreContent, RoleHandling};

use crate::error::{Error, Result};
use crate::inventory::{PolicyRef, Selector};
use crate::pg::connect::DbSettings;
use crate::restore::plan::{Request, TableName};
use crate::restore::stream::Decoding;
use crate::s3::settings::S3Settings;

/// Environment variable holding the age identity (`AGE-SECRET-KEY-1…`; a secret).
pub const AGE_IDENTITY_ENV: &str = var::AGE_IDENTITY;

/// Settings of `restore`: which backup, which target, what to restore.
#[derive(Clone, Debug)]
pub struct Settings {
    pub policy: PolicyRef,
    pub s3: S3Settings,
    pub db: DbSettings,
    /// Root of the client installations: `<root>/<major>/bin/pg_restore`.
    pub pg_bin_root: PathBuf,
    pub selector: Selector,
    /// The database of a multi-database run to restore (required when the selected
    /// run holds several).
    pub database: Option<String>,
    pub options: RestoreOptions,
    /// Only check the target and report it; nothing is selected, read or changed.
    pub preflight: bool,
    /// Restore every database of the selected run, each into the database of the same
    /// name (see [`crate::restore::all_databases`]).
    pub all_databases: bool,
}

/// What a restore puts into the target, as the command line says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreOptions {
    pub content: RestoreContent,
    /// Only these tables (`schema.table`).
    pub tables: Vec<String>,
    /// Full restore: drop the backup's objects before recreating them.
    pub clean: bool,
    /// Full restore without dropping anything first (overrides `clean`).
    pub no_clean: bool,
    /// Data-only restore: empty the restored tables first, in the same transaction.
    pub truncate: bool,
    /// Create the target database first if it does not exist.
    pub create_database: bool,
    /// Database to connect to for CREATE DATABASE.
    pub maintenance_database: String,
    /// `pg_restore --no-owner`.
    pub no_owner: bool,
    /// `pg_restore --no-privileges`.
    pub no_privileges: bool,
    /// Full restores: 2 or more take the parallel path ([`crate::restore::parallel`]).
    pub parallelism: u32,
    /// Where the parallel path's side archive goes.
    pub spool_dir: PathBuf,
    /// What to do about roles the target server lacks.
    pub roles: RoleHandling,
}

/// The request described by the options.
pub fn request(o: &RestoreOptions) -> Result<Request> {
    let tables = o
        .tables
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| TableName::parse(t))
        .collect::<Result<Vec<_>>>()?;
    if o.no_clean && o.content != RestoreContent::Full {
        return Err(Error::config(
            "--no-clean applies to full restores (TIDEMARK_RESTORE_CONTENT=full)",
        ));
    }
    Ok(Request {
        content: o.content,
        tables,
        clean: o.clean && !o.no_clean,
        truncate: o.truncate,
        no_owner: o.no_owner,
        no_privileges: o.no_privileges,
    })
}

/// The identities in `TIDEMARK_AGE_IDENTITY` (none when unset or empty).
pub fn identities_from_env() -> Result<Vec<age::x25519::Identity>> {
    match std::env::var(AGE_IDENTITY_ENV) {
        Ok(text) => parse_identities(&text),
        Err(std::env::VarError::NotPresent) => Ok(Vec::new()),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::config(format!(
            "{AGE_IDENTITY_ENV} is not valid UTF-8 (value not shown)"
        ))),
    }
}

/// Parses identities separated by newlines, commas or spaces; `#` lines (as in
/// `age-keygen` output) are comments. Errors never show the value.
pub fn parse_identities(text: &str) -> Result<Vec<age::x25519::Identity>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| {
            age::x25519::Identity::from_str(s).map_err(|_| {
                Error::config(format!(
                    "{AGE_IDENTITY_ENV}: entry {} is not an age X25519 identity \
                     (AGE-SECRET-KEY-1…; value not shown)",
                    i + 1
                ))
            })
        })
        .collect()
}

/// How the backup's stored bytes are decoded, or why they cannot be.
pub fn decoding(manifest: &Manifest, identities: &[age::x25519::Identity]) -> Result<Decoding> {
    if manifest.is_encrypted() && identities.is_empty() {
        return Err(Error::config(format!(
            "backup {} is age-encrypted (to {}); set {AGE_IDENTITY_ENV} to the matching \
             identity",
            manifest.key,
            manifest.encryption_recipients.join(", ")
        )));
    }
    Ok(Decoding {
        compression: manifest.compression,
        identities: if manifest.is_encrypted() {
            identities.to_vec()
        } else {
            Vec::new()
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn identities_parse_from_keygen_output_and_errors_hide_the_value() {
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let text = format!(
            "# created: now\n# public key: {}\n{}\n{}",
            a.to_public(),
            a.to_string().expose_secret(),
            b.to_string().expose_secret()
        );
        assert_eq!(parse_identities(&text).unwrap().len(), 2);
        assert!(parse_identities("").unwrap().is_empty());
        let secret = "AGE-SECRET-KEY-1NOTAVALIDKEYATALL";
        let Err(e) = parse_identities(secret) else {
            panic!("must fail")
        };
        let e = e.to_string();
        assert!(e.contains(AGE_IDENTITY_ENV), "{e}");
        assert!(!e.contains("NOTAVALIDKEY"), "{e}");
    }
}
