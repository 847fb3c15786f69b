//! Deterministic names of the Jobs the operator creates. A name derives only from the
//! owner's name, the kind of run and its scheduled time (or `runNow` value), so an
//! operator restart or a second replica computes the same name, and the API server's
//! `AlreadyExists` makes a duplicate run impossible.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Job names become the `job-name` label of their pods: at most 63 characters.
pub const MAX_JOB_NAME: usize = 63;

/// The kinds of Job the operator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunKind {
    Backup,
    Prune,
    Verify,
    RestoreTest,
    Purge,
    Restore,
    PostRestore,
    RestoreVerify,
    List,
    Preflight,
}

impl RunKind {
    /// Every kind.
    pub const ALL: [RunKind; 10] = [
        RunKind::Backup,
        RunKind::Prune,
        RunKind::Verify,
        RunKind::RestoreTest,
        RunKind::Purge,
        RunKind::Restore,
        RunKind::PostRestore,
        RunKind::RestoreVerify,
        RunKind::List,
        RunKind::Preflight,
    ];

    /// The kind whose [`RunKind::label`] is `label`.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == label)
    }

    /// Short form used in Job names.
    pub fn short(self) -> &'static str {
        match self {
            RunKind::Backup => "backup",
            RunKind::Prune => "prune",
            RunKind::Verify => "verify",
            RunKind::RestoreTest => "rtest",
            RunKind::Purge => "purge",
            RunKind::Restore => "restore",
            RunKind::PostRestore => "post",
            RunKind::RestoreVerify => "check",
            RunKind::List => "list",
            RunKind::Preflight => "pre",
        }
    }

    /// The runner subcommand (or role) as shown in labels and status.
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Backup => "backup",
            RunKind::Prune => "prune",
            RunKind::Verify => "verify",
            RunKind::RestoreTest => "restore-test",
            RunKind::Purge => "purge",
            RunKind::Restore => "restore",
            RunKind::PostRestore => "post-restore",
            RunKind::RestoreVerify => "restore-verify",
            RunKind::List => "list",
            RunKind::Preflight => "restore-preflight",
        }
    }
}

fn short_hash(input: &str, len: usize) -> String {
    let digest = hex::encode(Sha256::digest(input.as_bytes()));
    digest[..len].to_string()
}

/// `owner` shortened (with a hash of the full name, so distinct owners never collide)
/// to leave `reserve` characters for the suffix.
fn fit(owner: &str, reserve: usize) -> String {
    let budget = MAX_JOB_NAME - reserve;
    if owner.len() <= budget {
        return owner.to_string();
    }
    let hash = short_hash(owner, 6);
    let keep = budget - hash.len() - 1;
    let mut head: String = owner.chars().take(keep).collect();
    while head.ends_with(['-', '.']) {
        head.pop();
    }
    format!("{head}-{hash}")
}

/// Name of the Job for a scheduled run, e.g. `webshop-backup-202611231100`.
pub fn scheduled_job_name(owner: &str, kind: RunKind, scheduled: DateTime<Utc>) -> String {
    let suffix = format!("-{}-{}", kind.short(), scheduled.format("%Y%m%d%H%M"));
    format!("{}{suffix}", fit(owner, suffix.len()))
}

/// Name of the Job for a `runNow` request, derived from the requested value.
pub fn run_now_job_name(owner: &str, kind: RunKind, run_now: &str) -> String {
    let suffix = format!("-{}-now-{}", kind.short(), short_hash(run_now, 8));
    format!("{}{suffix}", fit(owner, suffix.len()))
}

/// Name of a Job that follows another one (e.g. the prune after a backup).
pub fn follow_up_job_name(parent_job: &str, kind: RunKind) -> String {
    let suffix = format!("-{}", kind.short());
    format!("{}{suffix}", fit(parent_job, suffix.len()))
}

/// Name of a one-off Job of a RestoreRequest.
pub fn request_job_name(owner: &str, kind: RunKind) -> String {
    let suffix = format!("-{}", kind.short());
    format!("{}{suffix}", fit(owner, suffix.len()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn names_read_well() {
        assert_eq!(
            scheduled_job_name("webshop", RunKind::Backup, t("2026-11-23T11:00:00Z")),
            "webshop-backup-202611231100"
        );
        assert_eq!(
            follow_up_job_name("webshop-backup-202611231100", RunKind::Prune),
            "webshop-backup-202611231100-prune"
        );
        assert!(
            run_now_job_name("webshop", RunKind::Backup, "2026-11-23 demo")
                .starts_with("webshop-backup-now-")
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_name_and_different_inputs_differ() {
        let a = run_now_job_name("webshop", RunKind::Backup, "1");
        assert_eq!(a, run_now_job_name("webshop", RunKind::Backup, "1"));
        assert_ne!(a, run_now_job_name("webshop", RunKind::Backup, "2"));
    }

    proptest! {
        #[test]
        fn names_are_valid_dns_labels_and_distinct_owners_never_collide(
            a in "[a-z0-9]([-a-z0-9]{0,250}[a-z0-9])?",
            b in "[a-z0-9]([-a-z0-9]{0,250}[a-z0-9])?",
            minute in 0i64..10_000_000,
        ) {
            let when = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minute);
            for kind in [RunKind::Backup, RunKind::RestoreTest, RunKind::Verify] {
                let name = scheduled_job_name(&a, kind, when);
                prop_assert!(name.len() <= MAX_JOB_NAME, "{name}");
                prop_assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
                prop_assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
                let follow = follow_up_job_name(&name, RunKind::Prune);
                prop_assert!(follow.len() <= MAX_JOB_NAME);
                if a != b {
                    prop_assert_ne!(name, scheduled_job_name(&b, kind, when));
                }
            }
        }
    }
}
