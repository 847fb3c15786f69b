//! Every Tidemark object a user can copy — each BackupPolicy or RestoreRequest block in
//! `README.md` and `docs/`, and every file in `examples/` — is accepted the way the API
//! server accepts it: structural defaults from the committed CRD, then its OpenAPI
//! schema with strict unknown fields, then every CEL rule. Marked counter-examples are
//! rejected. The files are found by walking the tree: a new snippet is checked as is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::snippets::*;
use support::*;

#[test]
fn every_doc_snippet_and_every_example_is_what_it_claims_to_be() {
    let snippets = all_snippets();
    let problems: Vec<String> = snippets.iter().flat_map(problems).collect();
    assert!(
        problems.is_empty(),
        "{} of {} snippets are wrong:\n{}",
        problems.len(),
        snippets.len(),
        problems.join("\n")
    );
}

#[test]
fn the_readme_policy_and_restore_request_are_among_the_checked_snippets() {
    let readme: Vec<Snippet> = all_snippets()
        .into_iter()
        .filter(|s| s.origin.starts_with("README.md:"))
        .collect();
    let kinds: Vec<String> = readme
        .iter()
        .flat_map(|s| objects(s).unwrap())
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"BackupPolicy".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"RestoreRequest".to_string()), "{kinds:?}");
}

#[test]
fn every_example_file_is_checked() {
    let snippets = all_snippets();
    let files = example_files();
    assert!(files.len() >= 7, "examples/ holds {} files", files.len());
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            snippets
                .iter()
                .any(|s| s.origin == format!("examples/{name}:1")),
            "{name} is not checked"
        );
    }
}

const POLICY_WITHOUT_IDENTITY: &str = r#"
Some text.

1. In a list:

   ```yaml
   apiVersion: tidemark.dev/v1alpha1
   kind: BackupPolicy
   metadata: { name: p, namespace: n }
   spec:
     schedule: "0 * * * *"
     database:
       host: db
       database: app
       user: app
     encryption: { recipientsSecretRef: { name: r, key: r } }
     s3: { bucket: backups }
     restoreTest: {}
   ```
"#;

#[test]
fn an_unmarked_snippet_the_api_server_rejects_is_reported_with_its_place_and_message() {
    let snippets = markdown_snippets("doc.md", POLICY_WITHOUT_IDENTITY);
    assert_eq!(snippets.len(), 1);
    let problems = problems(&snippets[0]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("doc.md:7: BackupPolicy p: "),
        "{problems:?}"
    );
    assert!(
        problems[0].contains("restoreTest.decryptionIdentitySecretRef is required"),
        "{problems:?}"
    );
}

#[test]
fn a_marked_counter_example_must_be_rejected_and_for_the_stated_reason() {
    let marked = POLICY_WITHOUT_IDENTITY.replace(
        "   ```yaml",
        &format!("   <!-- {INVALID_MARKER} -->\n   ```yaml"),
    );
    let with_reason = POLICY_WITHOUT_IDENTITY.replace(
        "   kind: BackupPolicy\n",
        &format!("   kind: BackupPolicy\n   # {INVALID_MARKER}: decryptionIdentitySecretRef is required\n"),
    );
    let wrong_reason = POLICY_WITHOUT_IDENTITY.replace(
        "   kind: BackupPolicy\n",
        &format!("   kind: BackupPolicy\n   # {INVALID_MARKER}: bucket is too short\n"),
    );
    let valid_but_marked = with_reason.replace("     restoreTest: {}\n", "");
    let check = |md: &str| problems(&markdown_snippets("doc.md", md)[0]);
    assert_eq!(check(&marked), Vec::<String>::new());
    assert_eq!(check(&with_reason), Vec::<String>::new());
    assert!(check(&wrong_reason)[0].contains("rejected, but not with `bucket is too short`"));
    assert!(check(&valid_but_marked)[0].contains("but the API server would accept it"));
}

#[test]
fn a_block_without_a_tidemark_kind_is_not_a_snippet() {
    let md = "```yaml\nkind: Secret\n```\n\n```sh\nkubectl get bp\n```\n";
    assert!(markdown_snippets("doc.md", md).is_empty());
}

#[test]
fn defaults_are_applied_before_the_rules_like_the_api_server_does() {
    // `restoreTest.enabled` is not written; its default (true) makes the identity rule
    // apply, and a CEL rule reading it without the default would fail to evaluate.
    let object = json!({
        "apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"schedule": "@daily", "database": {"uriSecretRef": {"name": "db", "key": "uri"}},
                 "s3": {"bucket": "backups"}, "restoreTest": {"schedule": null}}
    });
    let defaulted = defaulted("BackupPolicy", &object);
    assert_eq!(defaulted["spec"]["restoreTest"]["enabled"], true);
    assert_eq!(defaulted["spec"]["restoreTest"]["schedule"], "0 5 1 * *");
    assert_eq!(defaulted["spec"]["database"]["port"], 5432);
    assert!(defaulted["spec"]["s3"]["serverSideEncryption"]["algorithm"].is_string());
    assert_eq!(
        admission_errors("BackupPolicy", &object),
        Vec::<String>::new()
    );
}

#[test]
fn an_unquoted_off_is_read_as_kubectl_reads_it_and_rejected() {
    let md =
        "```yaml\napiVersion: tidemark.dev/v1alpha1\nkind: BackupPolicy\nmetadata: {name: p}\n\
              spec:\n  schedule: '@daily'\n  database: {uriSecretRef: {name: db, key: uri}}\n\
              s3: {bucket: backups}\n  dump: {rowCounts: off}\n```\n"
            .replace("\ns3:", "\n  s3:");
    let problems = problems(&markdown_snippets("doc.md", &md)[0]);
    assert!(!problems.is_empty());
    assert!(
        problems
            .iter()
            .all(|p| p.contains("/spec/dump/rowCounts: false is not")),
        "{problems:?}"
    );
}
