//! Property tests of the retention decision, compared with a deliberately naive,
//! independent implementation ([`naive`]) that shares no code with the module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "retention_props/naive.rs"]
mod naive;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use naive::{naive_tiers, newest};
use proptest::prelude::*;
use tidemark_runner::retention::{
    Backup, MultipartUpload, PolicyPrefix, RetentionPlan, RetentionPolicy, StoredObject, Tier,
    find_orphans, plan, stale_uploads,
};

/// Zones with and without DST, whole, half and quarter-hour offsets, a 30-minute DST
/// shift (Lord Howe) and a former midnight DST change (Sao Paulo).
const ZONES: [Tz; 10] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::Europe::London,
    chrono_tz::America::New_York,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Australia::Sydney,
    chrono_tz::Pacific::Chatham,
];

/// DST changes of the zones above (spring forward and fall back), to concentrate
/// histories around them.
const DST_CHANGES: [(Tz, &str); 14] = [
    (chrono_tz::Europe::Berlin, "2026-03-29T01:00:00Z"),
    (chrono_tz::Europe::Berlin, "2026-10-25T01:00:00Z"),
    (chrono_tz::Europe::London, "2026-03-29T01:00:00Z"),
    (chrono_tz::Europe::London, "2026-10-25T01:00:00Z"),
    (chrono_tz::America::New_York, "2026-03-08T07:00:00Z"),
    (chrono_tz::America::New_York, "2026-11-01T06:00:00Z"),
    (chrono_tz::America::Sao_Paulo, "2018-02-18T02:00:00Z"),
    (chrono_tz::America::Sao_Paulo, "2018-11-04T03:00:00Z"),
    (chrono_tz::Australia::Lord_Howe, "2026-04-04T15:00:00Z"),
    (chrono_tz::Australia::Lord_Howe, "2026-10-03T15:30:00Z"),
    (chrono_tz::Australia::Sydney, "2026-04-04T16:00:00Z"),
    (chrono_tz::Australia::Sydney, "2026-10-03T16:00:00Z"),
    (chrono_tz::Pacific::Chatham, "2026-04-04T14:00:00Z"),
    (chrono_tz::Pacific::Chatham, "2026-09-26T14:00:00Z"),
];

fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn rfc3339(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn planned_tiers(plan: &RetentionPlan) -> BTreeMap<String, Vec<Tier>> {
    plan.keep
        .iter()
        .map(|k| (k.key.clone(), k.tiers.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(ZONES.to_vec())
}

fn count(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), 1..=max]
}

fn policy() -> impl Strategy<Value = RetentionPolicy> {
    (count(30), count(10), count(6), count(13), count(4)).prop_map(
        |(hourly, daily, weekly, monthly, yearly)| RetentionPolicy {
            hourly,
            daily,
            weekly,
            monthly,
            yearly,
        },
    )
}

/// Up to 60 backups with unique keys, the newest at `anchor`, at most `span` seconds
/// older, on a grid of `grid` seconds (so equal times happen).
fn backups_before(anchor: i64, span: i64, grid: i64) -> impl Strategy<Value = Vec<Backup>> {
    prop::collection::vec(0..=span, 0..60).prop_map(move |offsets| {
        offsets
            .iter()
            .enumerate()
            .map(|(i, o)| Backup::new(format!("b/ns/p/{i:03}"), instant(anchor - o / grid * grid)))
            .collect()
    })
}

/// A history and a time zone: half the cases anywhere in 2015–2029 in any zone, spread
/// over hours to years; half within hours of a DST change of the zone drawn.
fn case() -> impl Strategy<Value = (Vec<Backup>, Tz)> {
    let anywhere = (
        1_420_070_400i64..1_893_456_000,
        prop::sample::select(vec![6 * 3600i64, 3 * 86_400, 120 * 86_400, 2200 * 86_400]),
        prop::sample::select(vec![1i64, 60, 1800]),
        zone(),
    )
        .prop_flat_map(|(anchor, span, grid, tz)| (backups_before(anchor, span, grid), Just(tz)));
    let near_dst = (
        prop::sample::select(DST_CHANGES.to_vec()),
        -3 * 3600i64..12 * 3600,
        prop::sample::select(vec![3 * 3600i64, 12 * 3600, 3 * 86_400]),
        prop::sample::select(vec![1i64, 60, 600]),
    )
        .prop_flat_map(|((tz, change), after, span, grid)| {
            let anchor = rfc3339(change).timestamp() + after;
            (backups_before(anchor, span, grid), Just(tz))
        });
    prop_oneof![anywhere, near_dst]
}

// ---------------------------------------------------------------------------------
// Properties of the plan.
// ---------------------------------------------------------------------------------

proptest! {
    // Failures are not persisted to a file: shrunk cases worth keeping become unit
    // tests in the module (as the Chatham mid-hour offset change did).
    #![proptest_config(ProptestConfig {
        cases: 384,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn plan_matches_the_naive_walk((backups, tz) in case(), policy in policy()) {
        let plan = plan(&backups, &policy, tz);
        prop_assert_eq!(planned_tiers(&plan), naive_tiers(&backups, &policy, tz));
    }

    #[test]
    fn keep_and_delete_partition_the_input((backups, tz) in case(), policy in policy()) {
        let plan = plan(&backups, &policy, tz);
        let input: BTreeSet<&str> = backups.iter().map(|b| b.key.as_str()).collect();
        let kept: BTreeSet<&str> = plan.keep.iter().map(|k| k.key.as_str()).collect();
        let deleted: BTreeSet<&str> = plan.delete.iter().map(String::as_str).collect();
        prop_assert_eq!(kept.len(), plan.keep.len());
        prop_assert_eq!(deleted.len(), plan.delete.len());
        prop_assert!(kept.is_disjoint(&deleted));
        prop_assert_eq!(kept.union(&deleted).copied().collect::<BTreeSet<_>>(), input);
        // Newest first, ties broken by key.
        let order: Vec<_> = plan.keep.iter().map(|k| (k.completed_at, k.key.clone())).collect();
        prop_assert!(order.windows(2).all(|w| w[0] > w[1]));
        prop_assert!(plan.keep.iter().all(|k| !k.tiers.is_empty()));
    }

    #[test]
    fn newest_is_always_kept((backups, tz) in case(), policy in policy()) {
        let plan = plan(&backups, &policy, tz);
        match newest(backups.iter()) {
            None => prop_assert!(plan.keep.is_empty() && plan.delete.is_empty()),
            Some(top) => {
                prop_assert_eq!(&plan.keep[0].key, &top.key);
                prop_assert!(plan.keep[0].tiers.contains(&Tier::Latest));
                prop_assert_eq!(plan.kept_by(Tier::Latest).count(), 1);
            }
        }
    }

    #[test]
    fn each_tier_keeps_at_most_its_count((backups, tz) in case(), policy in policy()) {
        let plan = plan(&backups, &policy, tz);
        for tier in Tier::PERIODIC {
            prop_assert!(plan.kept_by(tier).count() <= policy.count(tier) as usize);
        }
    }

    #[test]
    fn planning_again_over_the_kept_set_changes_nothing(
        (backups, tz) in case(), policy in policy(),
    ) {
        let first = plan(&backups, &policy, tz);
        let survivors: Vec<Backup> = first
            .keep
            .iter()
            .map(|k| Backup::new(k.key.clone(), k.completed_at))
            .collect();
        let second = plan(&survivors, &policy, tz);
        prop_assert!(second.delete.is_empty());
        prop_assert_eq!(second.keep, first.keep);
    }

    #[test]
    fn input_order_does_not_matter(
        (backups, shuffled, tz) in case()
            .prop_flat_map(|(b, tz)| (Just(b.clone()), Just(b).prop_shuffle(), Just(tz))),
        policy in policy(),
    ) {
        prop_assert_eq!(plan(&backups, &policy, tz), plan(&shuffled, &policy, tz));
    }
}

// ---------------------------------------------------------------------------------
// A fixed synthetic history of ~200 backups.
// ---------------------------------------------------------------------------------

/// About 200 backups over 15 months with an irregular schedule: hourly bursts, daily
/// runs, gaps of days, and a few duplicate completion times.
fn synthetic_history() -> Vec<Backup> {
    let mut t = rfc3339("2027-03-31T22:17:00Z").timestamp();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut backups = Vec::new();
    for i in 0..200 {
        backups.push(Backup::new(
            format!("backups/shop/webshop/{i:03}.dump.zst"),
            instant(t),
        ));
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        t -= match state % 10 {
            0 => 0,
            1..=4 => 3600 + (state % 600) as i64,
            5..=7 => 86_400 - (state % 4000) as i64,
            _ => 86_400 * (4 + (state % 12) as i64),
        };
    }
    backups
}

#[test]
fn synthetic_history_of_two_hundred_backups_matches_the_naive_walk() {
    let backups = synthetic_history();
    let oldest = backups.iter().map(|b| b.completed_at).min().unwrap();
    // Spans more than a year, so every DST change of 2026 and two calendar years.
    assert!(oldest < rfc3339("2026-03-01T00:00:00Z"), "{oldest}");
    let policy = RetentionPolicy {
        hourly: 24,
        daily: 7,
        weekly: 4,
        monthly: 12,
        yearly: 3,
    };
    for tz in ZONES {
        let plan = plan(&backups, &policy, tz);
        let expected = naive_tiers(&backups, &policy, tz);
        assert_eq!(planned_tiers(&plan), expected, "{tz}");
        assert_eq!(plan.keep.len() + plan.delete.len(), backups.len());
        assert_eq!(plan.kept_by(Tier::Hourly).count(), 24, "{tz}");
        assert_eq!(plan.kept_by(Tier::Daily).count(), 7, "{tz}");
        assert_eq!(plan.kept_by(Tier::Weekly).count(), 4, "{tz}");
        assert_eq!(plan.kept_by(Tier::Monthly).count(), 12, "{tz}");
        assert_eq!(plan.kept_by(Tier::Yearly).count(), 2, "{tz}: 2026 and 2027");
        assert!(!plan.delete.is_empty());
    }
}

// ---------------------------------------------------------------------------------
// Orphans and stale uploads never leave the policy prefix.
// ---------------------------------------------------------------------------------

const PREFIX: &str = "b/ns/p/";
const MANIFEST: &str = ".manifest.json";

fn any_key() -> impl Strategy<Value = String> {
    let dir = prop::sample::select(vec![
        "b/ns/p/",
        "b/ns/p-2/",
        "b/ns/p/sub/",
        "b/ns/",
        "b/ns/pp/",
        "ns/p/",
        "b/ns/p",
        "",
        "x/b/ns/p/",
        "b/ns/p//",
    ]);
    let name = prop_oneof![
        (0u32..40).prop_map(|s| format!("20260101T0000{s:02}Z.dump.zst")),
        "[a-zT0-9./]{0,12}",
    ];
    (dir, name, any::<bool>())
        .prop_map(|(d, n, m)| format!("{d}{n}{}", if m { MANIFEST } else { "" }))
}

fn child_of_prefix(key: &str) -> bool {
    key.strip_prefix(PREFIX)
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn orphan_cleanup_never_leaves_the_prefix(
        listing in prop::collection::vec((any_key(), 0i64..7200), 0..40),
        manifests in prop::collection::btree_set(any_key(), 0..10),
        uploads in prop::collection::vec((any_key(), 0i64..7200), 0..10),
        grace in 0u64..4000,
    ) {
        let now = instant(1_800_000_000);
        let objects: Vec<StoredObject> = listing
            .iter()
            .map(|(key, age)| StoredObject { key: key.clone(), last_modified: instant(1_800_000_000 - age) })
            .collect();
        let prefix = PolicyPrefix::new("b/ns/p").unwrap();
        let report = find_orphans(&objects, &manifests, &prefix, Duration::from_secs(grace), now);
        let listed: BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        for key in report.orphans.iter().chain(&report.broken).chain(&report.unrecognized) {
            prop_assert!(child_of_prefix(key), "{} is outside {}", key, PREFIX);
        }
        for orphan in &report.orphans {
            let manifest = format!("{orphan}{MANIFEST}");
            prop_assert!(!orphan.ends_with(MANIFEST));
            prop_assert!(!listed.contains(manifest.as_str()) && !manifests.contains(&manifest));
            // Every listing entry of the key is old (a key listed twice counts as new
            // if either entry is).
            for object in objects.iter().filter(|o| &o.key == orphan) {
                prop_assert!(now - object.last_modified > TimeDelta::seconds(grace as i64));
            }
        }
        for broken in &report.broken {
            let data = broken.strip_suffix(MANIFEST).unwrap();
            prop_assert!(!listed.contains(data));
            prop_assert!(!report.orphans.contains(broken));
        }

        let pending: Vec<MultipartUpload> = uploads
            .iter()
            .enumerate()
            .map(|(i, (key, age))| MultipartUpload {
                key: key.clone(),
                upload_id: format!("u{i}"),
                initiated: instant(1_800_000_000 - age),
            })
            .collect();
        let stale = stale_uploads(&pending, &prefix, Duration::from_secs(grace), now);
        for upload in &stale {
            prop_assert!(child_of_prefix(&upload.key), "{} is outside {}", upload.key, PREFIX);
            prop_assert!(now - upload.initiated > TimeDelta::seconds(grace as i64));
        }
        let expected = pending
            .iter()
            .filter(|u| child_of_prefix(&u.key) && now - u.initiated > TimeDelta::seconds(grace as i64))
            .count();
        prop_assert_eq!(stale.len(), expected);
    }
}
