//! The session settings of `pg_restore`'s connections to the side database (pure):
//! settings an ordinary role may change that speed a bulk load into a database that
//! nobody else uses and that is thrown away if anything fails.

/// Server memory the index builds of one restore share: each of the N `pg_restore` jobs
/// sorts in memory up to a 1/N share (at least the server default of 64 MB, at most
/// 512 MB) before spilling to disk.
pub const MAINTENANCE_BUDGET_MB: u32 = 1024;
const MIN_MAINTENANCE_MB: u32 = 64;
const MAX_MAINTENANCE_MB: u32 = 512;

/// `maintenance_work_mem` of each of `jobs` sessions, in MB.
pub fn maintenance_work_mem_mb(jobs: u32) -> u32 {
    (MAINTENANCE_BUDGET_MB / jobs.max(1)).clamp(MIN_MAINTENANCE_MB, MAX_MAINTENANCE_MB)
}

/// `PGOPTIONS` for `jobs` sessions: the caller's own options first, then quiet notices,
/// no wait for the WAL flush on each commit (the side database is dropped after a crash
/// or failure; the swap's own commit flushes the WAL, everything before it included)
/// and the index builds' share of memory.
pub fn pgoptions(existing: Option<&str>, jobs: u32) -> String {
    let ours = format!(
        "-c client_min_messages=warning -c synchronous_commit=off \
         -c maintenance_work_mem={}MB",
        maintenance_work_mem_mb(jobs)
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
        let o = pgoptions(None, 2);
        assert!(o.contains("synchronous_commit=off"), "{o}");
        assert!(o.contains("maintenance_work_mem=512MB"), "{o}");
        assert!(pgoptions(Some("-c search_path=x"), 2).starts_with("-c search_path=x -c "));
        assert_eq!(pgoptions(Some("  "), 2), o);
    }

    #[test]
    fn the_index_builds_share_one_budget() {
        assert_eq!(maintenance_work_mem_mb(1), 512);
        assert_eq!(maintenance_work_mem_mb(2), 512);
        assert_eq!(maintenance_work_mem_mb(4), 256);
        assert_eq!(maintenance_work_mem_mb(8), 128);
        assert_eq!(maintenance_work_mem_mb(64), 64);
        assert_eq!(maintenance_work_mem_mb(0), 512);
    }
}
