//! Durations in settings, written the Kubernetes/Go way: `26h`, `90m`, `1h30m`, `45s`,
//! `1.5h`, `500ms` (the same grammar as the API's duration fields), plus `d` for days.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration parsed from `26h`, `90m`, `2h30m`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let bad = || format!("`{text}` is not a duration (examples: 26h, 90m, 1h30m, 45s)");
        if text == "0" {
            return Ok(HumanDuration(Duration::ZERO));
        }
        if text.is_empty() {
            return Err(bad());
        }
        let mut total = 0f64;
        let mut rest = text;
        while !rest.is_empty() {
            let number_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (number, tail) = rest.split_at(number_end);
            if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
                return Err(bad());
            }
            let value: f64 = number.parse().map_err(|_| bad())?;
            let unit_end = tail
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(tail.len());
            let (unit, next) = tail.split_at(unit_end);
            let seconds = match unit {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                "d" => 86_400.0,
                _ => return Err(bad()),
            };
            total += value * seconds;
            rest = next;
        }
        Duration::try_from_secs_f64(total)
            .map(HumanDuration)
            .map_err(|_| bad())
    }
}

impl fmt::Display for HumanDuration {
    /// Whole units, largest first: `1d2h`, `26h` is shown as `1d2h`, `90s` as `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if secs == 0 {
            return write!(f, "{}ms", self.0.as_millis());
        }
        let parts = [
            (secs / 86_400, "d"),
            (secs % 86_400 / 3600, "h"),
            (secs % 3600 / 60, "m"),
            (secs % 60, "s"),
        ];
        for (n, unit) in parts {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Duration, String> {
        s.parse::<HumanDuration>().map(|d| d.0)
    }

    #[test]
    fn durations_parse_like_the_api_fields() {
        assert_eq!(parse("26h"), Ok(Duration::from_secs(26 * 3600)));
        assert_eq!(parse("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        for bad in ["", "h", "26", "1x", "-1h", "1.h", ".5h", "1h 30m"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_display_in_whole_units() {
        assert_eq!(
            HumanDuration(Duration::from_secs(26 * 3600)).to_string(),
            "1d2h"
        );
        assert_eq!(HumanDuration(Duration::from_secs(90)).to_string(), "1m30s");
        assert_eq!(HumanDuration(Duration::from_millis(5)).to_string(), "5ms");
    }
}
