//! Which field of the request a failure points at, so a reason names what to fix:
//! the spec fields that reference a missing Secret, and the field behind a runner
//! error reason.

use tidemark_crd::backup_policy::BackupPolicySpec;
use tidemark_crd::common::{DatabaseConnection, S3Destination, SecretKeyRef};
use tidemark_crd::contract::env as var;
use tidemark_crd::restore_request::RestoreRequestSpec;

fn connection_refs<'a>(prefix: &str, c: &'a DatabaseConnection) -> Vec<(String, &'a SecretKeyRef)> {
    [
        ("userSecretRef", c.user_secret_ref.as_ref()),
        ("passwordSecretRef", c.password_secret_ref.as_ref()),
        ("uriSecretRef", c.uri_secret_ref.as_ref()),
        ("caSecretRef", c.ca_secret_ref.as_ref()),
    ]
    .into_iter()
    .filter_map(|(f, r)| r.map(|r| (format!("{prefix}.{f}"), r)))
    .collect()
}

fn s3_refs<'a>(prefix: &str, s3: &'a S3Destination) -> Vec<(String, &'a SecretKeyRef)> {
    let mut refs = Vec::new();
    if let Some(c) = &s3.credentials {
        refs.push((
            format!("{prefix}.credentials.accessKeyIdSecretRef"),
            &c.access_key_id_secret_ref,
        ));
        refs.push((
            format!("{prefix}.credentials.secretAccessKeySecretRef"),
            &c.secret_access_key_secret_ref,
        ));
        if let Some(t) = &c.session_token_secret_ref {
            refs.push((format!("{prefix}.credentials.sessionTokenSecretRef"), t));
        }
    }
    if let Some(ca) = &s3.ca_bundle_secret_ref {
        refs.push((format!("{prefix}.caBundleSecretRef"), ca));
    }
    refs
}

/// Every Secret reference of the runner Jobs, with the field that holds it. S3
/// references of a `policyRef` source are the policy's. (The post-restore Job's Secret
/// references are plain env selectors, see [`fields_for_secret_message`].)
pub fn secret_refs(
    spec: &RestoreRequestSpec,
    policy: Option<&BackupPolicySpec>,
) -> Vec<(String, SecretKeyRef)> {
    let mut refs: Vec<(String, &SecretKeyRef)> = Vec::new();
    if let Some(id) = &spec.decryption_identity_secret_ref {
        refs.push(("decryptionIdentitySecretRef".to_string(), id));
    }
    refs.extend(connection_refs(
        "target.connection",
        &spec.target.connection,
    ));
    if let Some(explicit) = &spec.source.explicit {
        refs.extend(s3_refs("source.explicit.s3", &explicit.s3));
    }
    if let (Some(p), Some(policy)) = (&spec.source.policy_ref, policy) {
        let prefix = format!("source.policyRef ({}: spec.s3", p.name);
        refs.extend(
            s3_refs("", &policy.s3)
                .into_iter()
                .map(|(f, r)| (format!("{prefix}{f})"), r)),
        );
    }
    refs.into_iter().map(|(f, r)| (f, r.clone())).collect()
}

/// The Secret a kubelet message names: `secret "x" not found` or
/// `couldn't find key k in Secret ns/x`.
pub fn secret_in_message(message: &str) -> Option<String> {
    if let Some(rest) = message.split("secret \"").nth(1) {
        return rest.split('"').next().map(str::to_string);
    }
    let rest = message.split(" in Secret ").nth(1)?;
    let qualified = rest.split_whitespace().next()?;
    Some(
        qualified
            .rsplit('/')
            .next()
            .unwrap_or(qualified)
            .trim_end_matches(['.', ','])
            .to_string(),
    )
}

/// The key a kubelet message names: `couldn't find key k in Secret ns/x`.
pub fn key_in_message(message: &str) -> Option<&str> {
    message
        .split("find key ")
        .nth(1)?
        .split(" in Secret")
        .next()
}

/// The fields referencing the Secret (and key, when named) of a kubelet `message`, as
/// `a, b`.
pub fn fields_for_secret_message(
    spec: &RestoreRequestSpec,
    policy: Option<&BackupPolicySpec>,
    message: &str,
) -> Option<String> {
    let secret = secret_in_message(message)?;
    let key = key_in_message(message);
    let matches = |name: &str, k: &str| name == secret && key.is_none_or(|want| want == k);
    let fields: Vec<String> = secret_refs(spec, policy)
        .into_iter()
        .filter(|(_, r)| matches(&r.name, &r.key))
        .map(|(f, _)| f)
        .chain(post_restore_secret_fields(spec, &matches))
        .collect();
    (!fields.is_empty()).then(|| fields.join(", "))
}

fn post_restore_secret_fields(
    spec: &RestoreRequestSpec,
    matches: &dyn Fn(&str, &str) -> bool,
) -> Vec<String> {
    let Some(post) = &spec.post_restore else {
        return Vec::new();
    };
    post.env
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            v.value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref())
                .is_some_and(|s| matches(&s.name, &s.key))
        })
        .map(|(i, v)| format!("postRestore.env[{i}] ({})", v.name))
        .collect()
}

/// The field a runner failure points at, from its reason and the settings (environment
/// variables) its message names.
pub fn field_of_runner_failure(reason: &str, message: &str) -> Option<&'static str> {
    let by_setting = [
        (var::BACKUP_DATABASE, "backup.database"),
        (var::AGE_IDENTITY, "decryptionIdentitySecretRef"),
        (var::DATABASE_URL, "target.connection.uriSecretRef"),
        (var::PG_PASSWORD, "target.connection.passwordSecretRef"),
        (var::PG_USER, "target.connection"),
        (var::PG_HOST, "target.connection.host"),
        (var::PG_DATABASE, "target.connection.database"),
        (var::RESTORE_TABLES, "mode.tables"),
        (var::RESTORE_ROLES, "target.roles"),
        (var::BACKUP_KEY, "backup.key"),
        (var::BACKUP_BEFORE, "backup.before"),
    ];
    // backup.allDatabases: the runner's own reasons.
    match reason {
        "TargetNotRestorable" => return Some("target.createDatabase or mode.clean"),
        "TargetTablesMissing" => return Some("mode.content or mode.tables"),
        "RunIncomplete" => {
            return Some(
                "backup (the run lacks a database: pick an earlier run, or restore its \
                 databases one by one with backup.database)",
            );
        }
        _ => {}
    }
    if let Some((_, field)) = by_setting.iter().find(|(env, _)| message.contains(env)) {
        return Some(field);
    }
    let r = reason.to_ascii_lowercase();
    if r.starts_with("age") || r.contains("decrypt") || r.contains("identity") {
        Some("decryptionIdentitySecretRef")
    } else if r.contains("postgres") || r.contains("database") || r.starts_with("pg") {
        Some("target.connection")
    } else if r.starts_with("s3") {
        Some("source")
    } else if r.contains("notfound") || r.contains("nobackup") {
        Some("backup")
    } else if r.contains("incomplete") {
        Some("backup (its data object is missing or has another size: pick another backup)")
    } else if r.contains("corrupt") || r.contains("checksum") {
        Some("backup (the stored object is damaged)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_messages_name_the_secret_and_key() {
        assert_eq!(
            secret_in_message("secret \"webshop-db\" not found").as_deref(),
            Some("webshop-db")
        );
        let m = "couldn't find key password in Secret webshop/webshop-db";
        assert_eq!(secret_in_message(m).as_deref(), Some("webshop-db"));
        assert_eq!(key_in_message(m), Some("password"));
        assert_eq!(secret_in_message("container has runAsNonRoot"), None);
    }

    #[test]
    fn runner_failures_point_at_a_field() {
        assert_eq!(
            field_of_runner_failure("InvalidConfig", "TIDEMARK_AGE_IDENTITY does not match"),
            Some("decryptionIdentitySecretRef")
        );
        assert_eq!(
            field_of_runner_failure("PostgresFailed", "connection refused"),
            Some("target.connection")
        );
        assert_eq!(field_of_runner_failure("S3Denied", "403"), Some("source"));
        assert_eq!(
            field_of_runner_failure("S3CredentialsMissing", "no S3 credentials found"),
            Some("source")
        );
        assert_eq!(
            field_of_runner_failure(
                "InvalidConfig",
                "the target server lacks the role(s) \"app\"; nothing was changed: allow \
                 creating them (TIDEMARK_RESTORE_ROLES=create-missing)"
            ),
            Some("target.roles")
        );
        assert_eq!(field_of_runner_failure("Interrupted", "SIGTERM"), None);
        // backup.allDatabases: a target that cannot be restored into, a partial run.
        assert_eq!(
            field_of_runner_failure(
                "TargetNotRestorable",
                "database beta does not exist on the target server (enable \
                 TIDEMARK_CREATE_DATABASE to create it)"
            ),
            Some("target.createDatabase or mode.clean")
        );
        assert!(
            field_of_runner_failure("RunIncomplete", "run r has no good backup of gone")
                .is_some_and(|f| f.contains("backup.database"))
        );
    }
}
