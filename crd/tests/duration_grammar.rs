//! The API server and the binaries read durations with one grammar: every value the
//! CRD's pattern admits parses with `units::parse_duration`, and every value the schema
//! rejects is rejected by the parser too (a field the API accepts but the operator
//! cannot read, or the other way round, would surface only on a real cluster).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::{example_object, merge, schema_errors};
use tidemark_crd::units::parse_duration;

const ACCEPTED: &[&str] = &["2d", "1d12h", "26h", "90m", "1h30m", "1.5h", "45s", "500ms"];
const REJECTED: &[&str] = &["1 hour", "2w", "h", "1.h", "-1h", "1H", "P1D"];

fn rpo_errors(value: &str) -> Vec<String> {
    let mut policy = example_object("webshop-hourly.yaml");
    merge(&mut policy, &json!({"spec": {"rpo": value}}));
    schema_errors("BackupPolicy", &policy)
        .into_iter()
        .filter(|e| e.starts_with("/spec/rpo:"))
        .collect()
}

#[test]
fn the_schema_admits_exactly_the_durations_the_binaries_parse() {
    for value in ACCEPTED {
        assert_eq!(rpo_errors(value), Vec::<String>::new(), "{value}");
        assert!(parse_duration(value).is_ok(), "{value}");
    }
    for value in REJECTED {
        assert!(!rpo_errors(value).is_empty(), "schema admitted {value}");
        assert!(parse_duration(value).is_err(), "parser admitted {value}");
    }
}
