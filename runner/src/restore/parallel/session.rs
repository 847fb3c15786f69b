//! The session settings of `pg_restore -j`'s connections to the side database (pure):
//! settings an ordinary role may change that speed a bulk load into a database that
//! nobody else uses and that is thrown away if anything fails.

/// Index builds (the post-data steps, N at a time) sort in memory up to this much per
/// session instead of spilling to disk at the server's default (64 MB).
pub const MAINTENANCE_WORK_MEM: &str = "256MB";

/// `PGOPTIONS` for the load: the caller's own options first, then quiet notices, no
/// wait for the WAL flush on each commit (the side database is dropped after a crash or
/// failure; the swap's own commit flushes the WAL, everything before it included) and
/// more memory for the index builds.
pub fn pgoptions(existing: Option<&str>) -> String {
    let ours = format!(
        "-c client_min_messages=warning -c synchronous_commit=off \
         -c maintenance_work_mem={MAINTENANCE_WORK_MEM}"
    );
    match existing.map(str::trim).filter(|s| !s.is_empty()) {
        Some(e) => format!("{e} {ours}"),
        None => ours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_settings_follow_the_callers_own() {
        let o = pgoptions(None);
        assert!(o.contains("synchronous_commit=off"), "{o}");
        assert!(o.contains("maintenance_work_mem=256MB"), "{o}");
        assert!(pgoptions(Some("-c search_path=x")).starts_with("-c search_path=x -c "));
        assert_eq!(pgoptions(Some("  ")), o);
    }
}
