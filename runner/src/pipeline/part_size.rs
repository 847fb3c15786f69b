//! Part sizes of the multipart upload. S3 allows at most 10,000 parts of 5 MiB to 5 GiB
//! (the last may be smaller). Parts start at the configured size and double every
//! [`PARTS_PER_STEP`] parts (capped at 5 GiB), so 10,000 parts hold at least 5 TiB
//! for any start size ≥ 5 MiB, while small backups keep small parts (and so small
//! buffers: memory is part size × parts in flight).

/// S3's smallest allowed part (all but the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest allowed part.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// S3's limit on the number of parts.
pub const MAX_PARTS: u32 = 10_000;
/// The part size doubles after this many parts.
pub const PARTS_PER_STEP: u32 = 900;

/// Size of part `number` (1-based) for a stream that started with `initial`.
pub fn part_size(initial: u64, number: u32) -> u64 {
    let doublings = (number.saturating_sub(1) / PARTS_PER_STEP).min(20);
    initial
        .clamp(MIN_PART_SIZE, MAX_PART_SIZE)
        .saturating_mul(1u64 << doublings)
        .min(MAX_PART_SIZE)
}

/// Total bytes 10,000 parts can hold with this start size.
pub fn capacity(initial: u64) -> u64 {
    (1..=MAX_PARTS).map(|n| part_size(initial, n)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIVE_TIB: u64 = 5 << 40;

    #[test]
    fn sizes_double_every_step_and_cap_at_five_gib() {
        assert_eq!(part_size(8 << 20, 1), 8 << 20);
        assert_eq!(part_size(8 << 20, 900), 8 << 20);
        assert_eq!(part_size(8 << 20, 901), 16 << 20);
        assert_eq!(part_size(8 << 20, 10_000), MAX_PART_SIZE);
        assert_eq!(part_size(1, 1), MIN_PART_SIZE);
    }

    #[test]
    fn ten_thousand_parts_hold_five_tib_from_the_smallest_start() {
        assert!(
            capacity(MIN_PART_SIZE) >= FIVE_TIB,
            "{}",
            capacity(MIN_PART_SIZE)
        );
    }

    proptest! {
        #[test]
        fn any_start_size_covers_five_tib_within_limits(initial in MIN_PART_SIZE..=MAX_PART_SIZE) {
            prop_assert!(capacity(initial) >= FIVE_TIB);
            for n in [1, 899, 900, 901, 5_000, 10_000] {
                let s = part_size(initial, n);
                prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&s));
                prop_assert!(s >= part_size(initial, n.saturating_sub(1).max(1)));
            }
        }
    }
}
