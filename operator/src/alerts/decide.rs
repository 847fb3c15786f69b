//! Which alert, if any, a status change calls for. Pure.
//!
//! An alert is sent once per *transition*, never per reconcile: comparing the status the
//! reconcile read (`previous`) with the status it writes (`new`) deduplicates by itself,
//! also across operator restarts, because both live in the API server.
//!
//! - `BackupFailed`: `LastBackupSucceeded` turns `False` (the first failure after a
//!   success, or after creation); further failures in a row do not alert again.
//! - `BackupStale`: `BackupFresh` turns `False` (the newest backup is older than `rpo`).
//! - `VerificationFailed`: `Verified` turns `False`.
//! - `RestoreTestFailed`: `RestoreTested` turns `False`.
//! - `Recovered`: one of the above (among the enabled events) held before and none does now.
//!
//! Only events listed in `spec.notifications.events` alert; no notifications, no alerts.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use tidemark_crd::backup_policy::{AlertEvent, BackupPolicySpec, BackupPolicyStatus};

use crate::backup_policy::conditions::{
    BACKUP_FRESH, LAST_BACKUP_SUCCEEDED, RESTORE_TESTED, VERIFIED,
};

/// One webhook notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The event (the most severe one when several start at once).
    pub event: AlertEvent,
    /// Further events that started in the same change.
    pub also: Vec<AlertEvent>,
    pub namespace: String,
    pub policy: String,
    /// Machine-readable reason (the condition's or the failure's).
    pub reason: String,
    /// What happened, from the status (which never holds secrets).
    pub message: String,
    /// When the change was observed.
    pub time: DateTime<Utc>,
}

/// The problems an alert can be about, most severe first, with their condition.
const PROBLEMS: [(AlertEvent, &str); 4] = [
    (AlertEvent::BackupFailed, LAST_BACKUP_SUCCEEDED),
    (AlertEvent::BackupStale, BACKUP_FRESH),
    (AlertEvent::VerificationFailed, VERIFIED),
    (AlertEvent::RestoreTestFailed, RESTORE_TESTED),
];

fn condition<'a>(status: Option<&'a BackupPolicyStatus>, type_: &str) -> Option<&'a Condition> {
    status?.conditions.iter().find(|c| c.type_ == type_)
}

fn is_false(status: Option<&BackupPolicyStatus>, type_: &str) -> bool {
    condition(status, type_).is_some_and(|c| c.status == "False")
}

/// Reason and message of a problem in `status`.
fn details(status: &BackupPolicyStatus, event: AlertEvent, type_: &str) -> (String, String) {
    if event == AlertEvent::BackupFailed
        && let Some(failure) = &status.last_failure
    {
        let times = match status.consecutive_failures {
            n if n > 1 => format!(" ({n} failures in a row)"),
            _ => String::new(),
        };
        return (
            failure.reason.clone(),
            format!("{}{times}", failure.message),
        );
    }
    condition(Some(status), type_).map_or_else(
        || (format!("{event:?}"), String::new()),
        |c| (c.reason.clone(), c.message.clone()),
    )
}

/// The alert for the change from `previous` (the status read; `None` for a new policy) to
/// `new` (the status written), or `None`.
pub fn alert_for(
    previous: Option<&BackupPolicyStatus>,
    new: &BackupPolicyStatus,
    spec: &BackupPolicySpec,
    namespace: &str,
    policy: &str,
    now: DateTime<Utc>,
) -> Option<Alert> {
    let enabled = &spec.notifications.as_ref()?.events;
    let problems: Vec<(AlertEvent, &str)> = PROBLEMS
        .into_iter()
        .filter(|(event, _)| enabled.contains(event))
        .collect();
    let started: Vec<(AlertEvent, &str)> = problems
        .iter()
        .copied()
        .filter(|(_, type_)| is_false(Some(new), type_) && !is_false(previous, type_))
        .collect();
    let alert = |event, also, (reason, message)| Alert {
        event,
        also,
        namespace: namespace.to_string(),
        policy: policy.to_string(),
        reason,
        message,
        time: now,
    };
    if let Some(&(event, type_)) = started.first() {
        let also = started.iter().skip(1).map(|(e, _)| *e).collect();
        return Some(alert(event, also, details(new, event, type_)));
    }
    let was_unhealthy = problems.iter().any(|(_, t)| is_false(previous, t));
    let is_unhealthy = problems.iter().any(|(_, t)| is_false(Some(new), t));
    if was_unhealthy && !is_unhealthy && enabled.contains(&AlertEvent::Recovered) {
        let message = match &new.last_backup {
            Some(b) => format!(
                "healthy again; newest backup {} completed {}",
                b.key,
                b.completed_at.to_rfc3339()
            ),
            None => "healthy again".to_string(),
        };
        return Some(alert(
            AlertEvent::Recovered,
            Vec::new(),
            ("Recovered".to_string(), message),
        ));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use tidemark_crd::backup_policy::{BackupRecord, FailureRecord, Notifications};
    use tidemark_crd::common::SecretKeyRef;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn spec(events: Option<Vec<AlertEvent>>) -> BackupPolicySpec {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/webshop-hourly.yaml"),
        )
        .unwrap();
        let policy: tidemark_crd::BackupPolicy = serde_saphyr::from_str(&text).unwrap();
        let mut spec = policy.spec;
        if let Some(events) = events {
            spec.notifications = Some(Notifications {
                webhook_url_secret_ref: SecretKeyRef {
                    name: "alerts".into(),
                    key: "url".into(),
                },
                events,
            });
        }
        spec
    }

    fn cond(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: Time("2026-11-23T11:00:00Z".parse().unwrap()),
            observed_generation: Some(1),
        }
    }

    /// A status with the given `(type, status)` conditions.
    fn status(conds: &[(&str, &str)]) -> BackupPolicyStatus {
        BackupPolicyStatus {
            conditions: conds
                .iter()
                .map(|(ty, st)| cond(ty, st, &format!("{ty}{st}"), &format!("{ty} is {st}")))
                .collect(),
            ..BackupPolicyStatus::default()
        }
    }

    fn healthy() -> BackupPolicyStatus {
        status(&[
            (LAST_BACKUP_SUCCEEDED, "True"),
            (BACKUP_FRESH, "True"),
            (VERIFIED, "True"),
            (RESTORE_TESTED, "True"),
        ])
    }

    fn failed() -> BackupPolicyStatus {
        let mut s = status(&[
            (LAST_BACKUP_SUCCEEDED, "False"),
            (BACKUP_FRESH, "True"),
            (VERIFIED, "True"),
            (RESTORE_TESTED, "True"),
        ]);
        s.consecutive_failures = 1;
        s.last_failure = Some(FailureRecord {
            time: t("2026-11-23T12:00:30Z"),
            kind: "backup".into(),
            reason: "PgDumpFailed".into(),
            message: "pg_dump exited with status 1: connection refused".into(),
            job_name: Some("webshop-backup-202611231200".into()),
            exit_code: Some(3),
        });
        s
    }

    const NOW: &str = "2026-11-23T12:01:00Z";

    fn decide(prev: Option<&BackupPolicyStatus>, new: &BackupPolicyStatus) -> Option<Alert> {
        alert_for(prev, new, &spec(None), "shop", "webshop", t(NOW))
    }

    #[test]
    fn the_first_failure_alerts_once_with_the_failure_reason() {
        let alert = decide(Some(&healthy()), &failed()).unwrap();
        assert_eq!(alert.event, AlertEvent::BackupFailed);
        assert_eq!(alert.reason, "PgDumpFailed");
        assert_eq!(
            alert.message,
            "pg_dump exited with status 1: connection refused"
        );
        assert_eq!(
            (alert.namespace.as_str(), alert.policy.as_str()),
            ("shop", "webshop")
        );
        assert_eq!(alert.time, t(NOW));
        assert!(alert.also.is_empty());
        // The next reconcile sees the same (or a further) failure: no second alert.
        let mut again = failed();
        again.consecutive_failures = 2;
        assert_eq!(decide(Some(&failed()), &again), None);
        assert_eq!(decide(Some(&failed()), &failed()), None);
    }

    #[test]
    fn a_failure_on_a_new_policy_alerts_but_unknown_conditions_do_not() {
        assert_eq!(
            decide(None, &failed()).unwrap().event,
            AlertEvent::BackupFailed
        );
        let unknown = status(&[
            (LAST_BACKUP_SUCCEEDED, "Unknown"),
            (BACKUP_FRESH, "Unknown"),
        ]);
        assert_eq!(decide(None, &unknown), None);
        assert_eq!(
            decide(Some(&unknown), &healthy()),
            None,
            "nothing to recover from"
        );
    }

    #[test]
    fn staleness_verification_and_restore_test_failures_alert_on_their_transition() {
        for (type_, event) in [
            (BACKUP_FRESH, AlertEvent::BackupStale),
            (VERIFIED, AlertEvent::VerificationFailed),
            (RESTORE_TESTED, AlertEvent::RestoreTestFailed),
        ] {
            let mut new = healthy();
            let c = new
                .conditions
                .iter_mut()
                .find(|c| c.type_ == type_)
                .unwrap();
            c.status = "False".into();
            c.reason = "Because".into();
            c.message = format!("{type_} went wrong");
            let alert = decide(Some(&healthy()), &new).unwrap();
            assert_eq!(alert.event, event);
            assert_eq!(alert.reason, "Because");
            assert_eq!(alert.message, format!("{type_} went wrong"));
            assert_eq!(decide(Some(&new), &new), None, "{type_}: deduplicated");
        }
    }

    #[test]
    fn several_problems_at_once_make_one_alert_led_by_the_most_severe() {
        let mut new = failed();
        for c in &mut new.conditions {
            if c.type_ == BACKUP_FRESH || c.type_ == VERIFIED {
                c.status = "False".into();
            }
        }
        let alert = decide(Some(&healthy()), &new).unwrap();
        assert_eq!(alert.event, AlertEvent::BackupFailed);
        assert_eq!(
            alert.also,
            vec![AlertEvent::BackupStale, AlertEvent::VerificationFailed]
        );
    }

    #[test]
    fn recovery_alerts_once_when_every_problem_is_gone() {
        let mut new = healthy();
        new.last_backup = Some(BackupRecord {
            key: "postgres/shop/webshop/20261123T130005Z.dump.zst".into(),
            completed_at: t("2026-11-23T13:00:40Z"),
            ..BackupRecord::default()
        });
        let alert = decide(Some(&failed()), &new).unwrap();
        assert_eq!(alert.event, AlertEvent::Recovered);
        assert_eq!(alert.reason, "Recovered");
        assert!(
            alert.message.contains("20261123T130005Z"),
            "{}",
            alert.message
        );
        assert_eq!(decide(Some(&new), &new), None);
        // Still stale while the backup works again: not recovered yet.
        let mut half = healthy();
        half.conditions[1].status = "False".into();
        let mut stale_and_failed = failed();
        stale_and_failed.conditions[1].status = "False".into();
        assert_eq!(decide(Some(&stale_and_failed), &half), None);
    }

    #[test]
    fn only_enabled_events_alert_and_no_notifications_means_no_alerts() {
        let only_stale = spec(Some(vec![AlertEvent::BackupStale]));
        let none = alert_for(
            Some(&healthy()),
            &failed(),
            &only_stale,
            "shop",
            "webshop",
            t(NOW),
        );
        assert_eq!(none, None);
        // Recovery from a problem whose event is disabled is no recovery to report,
        // and Recovered itself can be switched off.
        assert_eq!(
            alert_for(
                Some(&failed()),
                &healthy(),
                &only_stale,
                "shop",
                "webshop",
                t(NOW)
            ),
            None
        );
        let no_recovered = spec(Some(vec![AlertEvent::BackupFailed]));
        assert_eq!(
            alert_for(
                Some(&failed()),
                &healthy(),
                &no_recovered,
                "shop",
                "webshop",
                t(NOW)
            ),
            None
        );
        let mut silent = spec(None);
        silent.notifications = None;
        assert_eq!(
            alert_for(
                Some(&healthy()),
                &failed(),
                &silent,
                "shop",
                "webshop",
                t(NOW)
            ),
            None
        );
    }
}
