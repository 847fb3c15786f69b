//! Part sizes of the multipart upload. S3 allows at most 10,000 parts of 5 MiB to 5 GiB
//! (the last may be smaller), and some compatible stores (Cloudflare R2) require every
//! part but the last to have the same size. So the part size is chosen once, before the
//! upload starts, from an estimate of the stored size with headroom (see
//! [`choose`]), and never changes within an upload. Pure.

/// S3's smallest allowed part (all but the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest allowed part.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// S3's limit on the number of parts.
pub const MAX_PARTS: u32 = 10_000;
/// The estimate of the previous backup's stored size is multiplied by this (growth,
/// worse compression) before it must fit into [`MAX_PARTS`] parts.
pub const HEADROOM: u64 = 4;
/// Part sizes are rounded up to whole MiB.
const GRAIN: u64 = 1 << 20;

/// What the part size is chosen from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Stored size of the policy's newest good backup, if there is one.
    pub previous_stored: Option<u64>,
    /// Size of the database on disk (`pg_database_size`), if known.
    pub database_size: Option<u64>,
}

impl Estimate {
    /// The largest stored size the upload must be able to hold.
    pub fn needed(&self) -> u64 {
        let previous = self.previous_stored.unwrap_or(0).saturating_mul(HEADROOM);
        previous.max(self.database_size.unwrap_or(0))
    }
}

/// The one part size of an upload: at least the configured size, large enough that
/// [`MAX_PARTS`] parts hold the estimate, within S3's limits, a whole number of MiB.
pub fn choose(configured: u64, estimate: &Estimate) -> u64 {
    let needed = estimate.needed().div_ceil(u64::from(MAX_PARTS));
    let size = configured.max(needed).clamp(MIN_PART_SIZE, MAX_PART_SIZE);
    size.div_ceil(GRAIN)
        .saturating_mul(GRAIN)
        .min(MAX_PART_SIZE)
}

/// Total bytes one upload with this part size can hold.
pub fn capacity(part_size: u64) -> u64 {
    part_size.saturating_mul(u64::from(MAX_PARTS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_or_unknown_databases_keep_the_configured_size() {
        assert_eq!(choose(8 << 20, &Estimate::default()), 8 << 20);
        assert_eq!(choose(1, &Estimate::default()), MIN_PART_SIZE);
        let small = Estimate {
            previous_stored: Some(1 << 30),
            database_size: Some(3 << 30),
        };
        assert_eq!(choose(8 << 20, &small), 8 << 20);
    }

    #[test]
    fn a_seven_gib_backup_gets_parts_that_hold_four_times_as_much() {
        let e = Estimate {
            previous_stored: Some(7 << 30),
            database_size: None,
        };
        let part = choose(8 << 20, &e);
        assert!(capacity(part) >= 28 << 30, "{part}");
        assert_eq!(part % GRAIN, 0);
        assert_eq!(
            choose(
                8 << 20,
                &Estimate {
                    previous_stored: Some(u64::MAX),
                    database_size: None
                }
            ),
            MAX_PART_SIZE
        );
    }

    proptest! {
        #[test]
        fn the_chosen_size_is_legal_and_holds_the_estimate(
            configured in 0u64..=(6 << 30),
            previous in proptest::option::of(0u64..(12 << 40)),
            database in proptest::option::of(0u64..(48 << 40)),
        ) {
            let e = Estimate { previous_stored: previous, database_size: database };
            let part = choose(configured, &e);
            prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part));
            prop_assert!(part >= configured.min(MAX_PART_SIZE));
            prop_assert!(capacity(part) >= e.needed().min(capacity(MAX_PART_SIZE)));
        }
    }
}
