//! Kubernetes quantities as byte counts (`1Mi`, `1.5Gi`, `500k`, `2M`), for settings the
//! CRD accepts in Kubernetes notation but the runner takes as plain bytes — so `M` means
//! 10⁶ as in Kubernetes, never the runner's binary shorthand.

/// Bytes of a quantity matching the CRD's `QUANTITY_PATTERN`, rounded up to a whole
/// byte; `None` when it does not match or overflows.
pub fn bytes(quantity: &str) -> Option<u64> {
    let q = quantity.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if number.contains('.')
        && (fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let scale = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
    let scaled = digits.checked_mul(multiplier)?;
    u64::try_from(scaled.div_ceil(scale)).ok()
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn kubernetes_suffixes_are_decimal_or_binary_as_kubernetes_defines_them() {
        assert_eq!(bytes("1024"), Some(1024));
        assert_eq!(bytes("1Ki"), Some(1024));
        assert_eq!(bytes("1Mi"), Some(1 << 20));
        assert_eq!(bytes("1M"), Some(1_000_000));
        assert_eq!(bytes("500k"), Some(500_000));
        assert_eq!(bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(bytes("0.5k"), Some(500));
        assert_eq!(bytes("0.0001"), Some(1));
        assert_eq!(bytes("2Ti"), Some(2 << 40));
        assert_eq!(bytes("8Ei"), Some(8 << 60));
    }

    #[test]
    fn malformed_or_overflowing_quantities_are_refused() {
        for bad in ["", "Mi", "1.Mi", ".5Mi", "1MiB", "1m", "-1", "1e3", "16Ei"] {
            assert_eq!(bytes(bad), None, "{bad}");
        }
    }
}
