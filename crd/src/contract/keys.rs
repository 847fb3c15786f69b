//! Object key layout: `<prefix>/<namespace>/<policy>/<UTC timestamp>.<ext>` and
//! `<same>.manifest.json` beside it. A run of a policy with several databases writes
//! one object set per database, all under the run's one timestamp:
//! `<prefix>/<namespace>/<policy>/<UTC timestamp>.<database>.<ext>`, the database name
//! percent-encoded ([`escape_database`]) so that it never holds `.` or `/`.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::manifest::{CompressionTag, DumpFormatTag};

/// Suffix of a manifest object key.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// Timestamp layout used in keys: sortable, no characters that need escaping.
pub const KEY_TIMESTAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Directory (ending in `/`) holding all objects of one policy.
pub fn policy_prefix(prefix: &str, namespace: &str, policy: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{namespace}/{policy}/")
    } else {
        format!("{prefix}/{namespace}/{policy}/")
    }
}

/// Extension of a backup object: dump format, then compression, then `.age`.
pub fn extension(format: DumpFormatTag, compression: CompressionTag, encrypted: bool) -> String {
    let base = match format {
        DumpFormatTag::Custom => "dump",
        DumpFormatTag::Plain => "sql",
    };
    let age = if encrypted { ".age" } else { "" };
    format!("{base}{}{age}", compression.extension())
}

/// Key of the backup data object started at `started`.
pub fn backup_key(
    prefix: &str,
    namespace: &str,
    policy: &str,
    started: DateTime<Utc>,
    ext: &str,
) -> String {
    format!(
        "{}{}.{ext}",
        policy_prefix(prefix, namespace, policy),
        started.format(KEY_TIMESTAMP_FORMAT)
    )
}

/// Key of one database's data object of a multi-database run started at `started`.
pub fn run_database_key(
    prefix: &str,
    namespace: &str,
    policy: &str,
    started: DateTime<Utc>,
    database: &str,
    ext: &str,
) -> String {
    format!(
        "{}{}.{}.{ext}",
        policy_prefix(prefix, namespace, policy),
        started.format(KEY_TIMESTAMP_FORMAT),
        escape_database(database)
    )
}

/// The run id of a run started at `started`: its key timestamp.
pub fn run_id(started: DateTime<Utc>) -> String {
    started.format(KEY_TIMESTAMP_FORMAT).to_string()
}

/// A database name as it appears in a key: every byte outside `[A-Za-z0-9_-]`
/// percent-encoded (`%2E` for `.`), so the name never adds a `.` or `/` to the key.
pub fn escape_database(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What follows a data object's key in the key of its globals object.
pub const GLOBALS_INFIX: &str = ".globals.sql";

/// Key of the globals object beside the data object `backup_key`: the data key, then
/// `.globals.sql`, the compression's extension and `.age` when encrypted
/// (`20261123T140005Z.dump.zst.age.globals.sql.zst.age`).
pub fn globals_key(backup_key: &str, compression: CompressionTag, encrypted: bool) -> String {
    let age = if encrypted { ".age" } else { "" };
    format!(
        "{backup_key}{GLOBALS_INFIX}{}{age}",
        compression.extension()
    )
}

/// The data object key a globals object key belongs to, if it is one.
pub fn backup_key_of_globals(globals_key: &str) -> Option<&str> {
    let at = globals_key.rfind(GLOBALS_INFIX)?;
    let rest = &globals_key[at + GLOBALS_INFIX.len()..];
    let known = ["", ".zst", ".gz"]
        .iter()
        .any(|c| rest == *c || rest.strip_suffix(".age") == Some(*c));
    known.then_some(&globals_key[..at])
}

/// Key of the manifest belonging to a backup data object.
pub fn manifest_key(backup_key: &str) -> String {
    format!("{backup_key}{MANIFEST_SUFFIX}")
}

/// The data object key a manifest key belongs to, if it is a manifest key.
pub fn backup_key_of_manifest(manifest_key: &str) -> Option<&str> {
    manifest_key.strip_suffix(MANIFEST_SUFFIX)
}

/// The timestamp encoded in a key's file name, if it has one.
pub fn timestamp_of_key(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next()?;
    let stamp = name.get(..16)?;
    NaiveDateTime::parse_from_str(stamp, KEY_TIMESTAMP_FORMAT)
        .ok()
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_follow_the_documented_layout() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 5).single();
        let Some(t) = t else { panic!("valid time") };
        let ext = extension(DumpFormatTag::Custom, CompressionTag::Zstd, true);
        let key = backup_key("/backups/", "shop", "webshop", t, &ext);
        assert_eq!(key, "backups/shop/webshop/20261123T140005Z.dump.zst.age");
        assert_eq!(
            manifest_key(&key),
            "backups/shop/webshop/20261123T140005Z.dump.zst.age.manifest.json"
        );
        assert_eq!(
            backup_key_of_manifest(&manifest_key(&key)),
            Some(key.as_str())
        );
        assert_eq!(timestamp_of_key(&key), Some(t));
        let globals = globals_key(&key, CompressionTag::Zstd, true);
        assert_eq!(
            globals,
            "backups/shop/webshop/20261123T140005Z.dump.zst.age.globals.sql.zst.age"
        );
        assert_eq!(backup_key_of_globals(&globals), Some(key.as_str()));
        assert_eq!(backup_key_of_globals(&key), None);
        assert_eq!(
            backup_key_of_globals("x/20261123T140005Z.sql.globals.sql"),
            Some("x/20261123T140005Z.sql")
        );
        assert_eq!(timestamp_of_key(&globals), Some(t));
    }

    #[test]
    fn run_keys_carry_the_escaped_database_after_the_timestamp() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 5).single();
        let Some(t) = t else { panic!("valid time") };
        let key = run_database_key("b", "shop", "all", t, "my.db/x ü", "dump.zst");
        assert_eq!(
            key,
            "b/shop/all/20261123T140005Z.my%2Edb%2Fx%20%C3%BC.dump.zst"
        );
        assert_eq!(timestamp_of_key(&key), Some(t));
        assert_eq!(run_id(t), "20261123T140005Z");
        assert_eq!(escape_database("app_db-2"), "app_db-2");
    }

    #[test]
    fn empty_prefix_starts_at_the_namespace() {
        assert_eq!(policy_prefix("", "ns", "p"), "ns/p/");
        assert_eq!(
            extension(DumpFormatTag::Plain, CompressionTag::None, false),
            "sql"
        );
    }
}
