//! Conversion of Kubernetes timestamps (jiff) to chrono, which the API types use.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A Kubernetes `Time` as a chrono UTC time.
pub fn to_chrono(t: &Time) -> Option<DateTime<Utc>> {
    from_jiff(t.0)
}

/// A chrono UTC time as a Kubernetes `Time` (for conditions and other API fields).
pub fn to_k8s(t: DateTime<Utc>) -> Option<Time> {
    Timestamp::new(
        t.timestamp(),
        i32::try_from(t.timestamp_subsec_nanos()).ok()?,
    )
    .ok()
    .map(Time)
}

/// A jiff timestamp as a chrono UTC time.
pub fn from_jiff(t: Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(t.subsec_nanosecond()).ok()?;
    DateTime::from_timestamp(t.as_second(), nanos)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t: DateTime<Utc> = "2026-11-23T11:00:00.123Z".parse().unwrap();
        let k8s = Time(Timestamp::new(t.timestamp(), 123_000_000).unwrap());
        assert_eq!(to_chrono(&k8s), Some(t));
        assert_eq!(to_k8s(t), Some(k8s));
    }
}
