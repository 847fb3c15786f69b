//! The webhook body: one short line that both Discord (`content`) and Slack (`text`)
//! incoming webhooks accept. Each service ignores the other's field. Pure.

use serde_json::{Value, json};
use tidemark_crd::backup_policy::AlertEvent;

use super::decide::Alert;

/// Longest status message carried (Discord allows 2,000 characters in `content`; the
/// rest of the line is bounded by Kubernetes name lengths).
pub const MAX_MESSAGE: usize = 1_000;

fn headline(event: AlertEvent) -> &'static str {
    match event {
        AlertEvent::BackupFailed => "backup failed",
        AlertEvent::BackupStale => "backup stale",
        AlertEvent::VerificationFailed => "verification failed",
        AlertEvent::RestoreTestFailed => "restore test failed",
        AlertEvent::Recovered => "recovered",
    }
}

/// `[tidemark] BackupFailed shop/webshop (backup failed): PgDumpFailed — pg_dump … at 2026-…Z`
pub fn text(alert: &Alert) -> String {
    let mut line = format!(
        "[tidemark] {:?} {}/{} ({}): {}",
        alert.event,
        alert.namespace,
        alert.policy,
        headline(alert.event),
        alert.reason
    );
    if !alert.message.is_empty() {
        line.push_str(" - ");
        if alert.message.chars().count() > MAX_MESSAGE {
            line.extend(alert.message.chars().take(MAX_MESSAGE - 1));
            line.push('…');
        } else {
            line.push_str(&alert.message);
        }
    }
    if !alert.also.is_empty() {
        let also: Vec<String> = alert.also.iter().map(|e| format!("{e:?}")).collect();
        line.push_str(&format!(" (also: {})", also.join(", ")));
    }
    line.push_str(&format!(" at {}", alert.time.format("%Y-%m-%dT%H:%M:%SZ")));
    line
}

/// The JSON body. `allowed_mentions` keeps Discord from pinging anyone because of text
/// that happens to contain `@everyone`.
pub fn body(alert: &Alert) -> Value {
    let text = text(alert);
    json!({
        "content": text,
        "text": text,
        "allowed_mentions": { "parse": [] },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn alert(message: &str) -> Alert {
        Alert {
            event: AlertEvent::BackupFailed,
            also: vec![AlertEvent::BackupStale],
            namespace: "shop".into(),
            policy: "webshop".into(),
            reason: "PgDumpFailed".into(),
            message: message.into(),
            time: "2026-11-23T12:01:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn both_fields_carry_the_same_short_line() {
        let b = body(&alert("pg_dump exited with status 1"));
        assert_eq!(b["content"], b["text"]);
        assert_eq!(
            b["text"],
            "[tidemark] BackupFailed shop/webshop (backup failed): PgDumpFailed - pg_dump exited \
             with status 1 (also: BackupStale) at 2026-11-23T12:01:00Z"
        );
        assert_eq!(b["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn long_messages_are_cut_and_the_time_stays() {
        let t = text(&alert(&"x".repeat(5_000)));
        assert!(t.chars().count() < 2_000, "{}", t.len());
        assert!(t.contains(&format!("{}…", "x".repeat(MAX_MESSAGE - 1))));
        assert!(t.ends_with(" at 2026-11-23T12:01:00Z"));
    }
}
