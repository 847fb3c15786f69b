//! Durations and byte sizes as people write them in specs and settings, one grammar for
//! both binaries.
//!
//! **Durations** (`26h`, `90m`, `1h30m`, `1.5h`, `45s`, `500ms`, `2d`, `0`): one or more
//! `<number><unit>` with units `ms`, `s`, `m`, `h` and `d` (24 hours), no signs or
//! spaces. The API's duration fields accept exactly this grammar (except the bare `0`)
//! ([`crate::common::DURATION_PATTERN`]).
//!
//! **Sizes** follow Kubernetes quantities, so a size means the same in a spec and in the
//! runner's environment: `M` is 10⁶ (decimal: `k`/`K`, `M`, `G`, `T`, `P`, `E`) and
//! `Mi` is 2²⁰ (binary: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`). The binary units may also be
//! written with a `B` (`MiB`), a plain number or `B` is bytes, a fraction is rounded up
//! to a whole byte (`1.5Ki` = 1536), and one space may separate number and unit
//! (`1 GiB`). Units are case-sensitive (`m` would be Kubernetes' milli, never a size).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

const DURATION_EXAMPLES: &str = "examples: 26h, 90m, 1h30m, 45s, 2d";
const SIZE_EXAMPLES: &str = "examples: 8MiB, 10Mi, 1G, 1048576";

/// Parses a duration (see the module documentation).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a duration ({DURATION_EXAMPLES})");
    if text == "0" {
        return Ok(Duration::ZERO);
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
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// [`parse_duration`] as a `chrono` duration, for time arithmetic; `None` when it does
/// not parse or does not fit.
pub fn parse_time_delta(text: &str) -> Option<chrono::TimeDelta> {
    parse_duration(text)
        .ok()
        .and_then(|d| chrono::TimeDelta::from_std(d).ok())
}

/// Parses a byte size (see the module documentation).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let bad = || format!("`{s}` is not a size ({SIZE_EXAMPLES})");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    let multiplier: u128 = match unit {
        "" | "B" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" | "KiB" => 1 << 10,
        "Mi" | "MiB" => 1 << 20,
        "Gi" | "GiB" => 1 << 30,
        "Ti" | "TiB" => 1 << 40,
        "Pi" | "PiB" => 1 << 50,
        "Ei" | "EiB" => 1 << 60,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}` (use Ki, Mi, Gi or k, M, G; {SIZE_EXAMPLES})"
            ));
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(whole) || (number.contains('.') && !digits_only(fraction)) {
        return Err(bad());
    }
    let too_large = || format!("size `{s}` is too large");
    let scale = u32::try_from(fraction.len())
        .ok()
        .and_then(|n| 10u128.checked_pow(n))
        .ok_or_else(too_large)?;
    let digits: u128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| too_large())?;
    let scaled = digits.checked_mul(multiplier).ok_or_else(too_large)?;
    u64::try_from(scaled.div_ceil(scale)).map_err(|_| too_large())
}

/// Bytes for people, binary units with one decimal: `512 B`, `1.5 KiB`, `12.3 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration setting, parsed with [`parse_duration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(HumanDuration)
    }
}

impl fmt::Display for HumanDuration {
    /// Whole units, largest first: `26h` is shown as `1d2h`, `90s` as `1m30s`.
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

/// A size setting in bytes, parsed with [`parse_size`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_size(s).map(ByteSize)
    }
}

impl fmt::Display for ByteSize {
    /// Whole GiB or MiB when exact (`8MiB`), else bytes: [`parse_size`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
            write!(f, "{}GiB", b >> 30)
        } else if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", b >> 20)
        } else {
            write!(f, "{b}")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_the_api_fields_plus_days() {
        let d = |s: &str| parse_duration(s);
        assert_eq!(d("26h"), Ok(Duration::from_secs(26 * 3600)));
        assert_eq!(d("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("168h"), Ok(Duration::from_secs(168 * 3600)));
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(d("0"), Ok(Duration::ZERO));
        for bad in [
            "", "h", "26", "1x", "-1h", "1.h", ".5h", "1h 30m", "tomorrow",
        ] {
            let err = d(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad:?}: {err}");
        }
        assert_eq!(
            parse_time_delta("1h30m"),
            Some(chrono::TimeDelta::minutes(90))
        );
        assert_eq!(parse_time_delta("soon"), None);
    }

    #[test]
    fn durations_display_in_whole_units_and_read_back() {
        for (secs, text) in [(26 * 3600, "1d2h"), (90, "1m30s"), (3600, "1h")] {
            let d = HumanDuration(Duration::from_secs(secs));
            assert_eq!(d.to_string(), text);
            assert_eq!(text.parse::<HumanDuration>(), Ok(d));
        }
        assert_eq!(HumanDuration(Duration::from_millis(5)).to_string(), "5ms");
    }

    #[test]
    fn sizes_mean_what_kubernetes_quantities_mean() {
        let s = |t: &str| parse_size(t);
        assert_eq!(s("4096"), Ok(4096));
        assert_eq!(s("64B"), Ok(64));
        assert_eq!(s("1Ki"), Ok(1024));
        assert_eq!(s("10Mi"), Ok(10 << 20));
        assert_eq!(s("8MiB"), Ok(8 << 20));
        assert_eq!(s("5GiB"), Ok(5 << 30));
        assert_eq!(s("1 GiB"), Ok(1 << 30));
        assert_eq!(s("2Ti"), Ok(2 << 40));
        assert_eq!(s("8Ei"), Ok(8 << 60));
        // `M` is decimal, as in every Kubernetes quantity.
        assert_eq!(s("1M"), Ok(1_000_000));
        assert_eq!(s("16M"), Ok(16_000_000));
        assert_eq!(s("500k"), Ok(500_000));
        assert_eq!(s("2G"), Ok(2_000_000_000));
        // Fractions round up to a whole byte.
        assert_eq!(s("1.5Gi"), Ok(3 << 29));
        assert_eq!(s("0.5k"), Ok(500));
        assert_eq!(s("0.0001"), Ok(1));
    }

    #[test]
    fn malformed_or_overflowing_sizes_are_refused_with_a_message() {
        for bad in [
            "", "Mi", "MiB", "1.Mi", ".5Mi", "1m", "1mib", "1MB", "-1", "1e3", "lots", "16Ei",
            "1  Mi",
        ] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.contains(&format!("`{}`", bad.trim())), "{bad:?}: {err}");
        }
        assert!(parse_size("16Ei").unwrap_err().contains("too large"));
    }

    #[test]
    fn byte_sizes_display_so_they_read_back() {
        for b in [8 << 20, 5 << 30, 4096, 1_000_000] {
            let text = ByteSize(b).to_string();
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(b)), "{text}");
        }
        assert_eq!(ByteSize(8 << 20).to_string(), "8MiB");
    }

    #[test]
    fn sizes_for_people_have_one_decimal() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(20 << 20), "20.0 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(human_size(2_190_000_000), "2.0 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }
}
