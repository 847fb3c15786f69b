//! Conversions between Kubernetes timestamps (jiff) and chrono, which the API types use.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A Kubernetes `Time` as a chrono UTC time.
pub fn to_chrono(t: &Time) -> Option<DateTime<Utc>> {
    from_jiff(t.0)
}

/// A jiff timestamp as a chrono UTC time.
pub fn from_jiff(t: Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(t.subsec_nanosecond()).ok()?;
    DateTime::from_timestamp(t.as_second(), nanos)
}

/// A chrono UTC time as a Kubernetes `Time`.
pub fn to_k8s(t: DateTime<Utc>) -> Option<Time> {
    let nanos = i32::try_from(t.timestamp_subsec_nanos()).ok()?;
    Timestamp::new(t.timestamp(), nanos).ok().map(Time)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t: DateTime<Utc> = "2026-11-23T11:00:00.123Z".parse().unwrap();
        assert_eq!(to_chrono(&to_k8s(t).unwrap()), Some(t));
    }
}
