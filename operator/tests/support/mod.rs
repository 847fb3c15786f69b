//! Test support shared by the operator's integration tests: the scripted mock API
//! server (`api`) and the example objects and golden files (`fixtures`). Each test
//! binary uses only part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod fixtures;
pub mod policy;
