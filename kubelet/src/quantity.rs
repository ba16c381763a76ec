//! Resource quantities (`250m`, `1.5`, `64Mi`, `1e3`) as the kubelet needs
//! them: exact values in thousandths of a unit.

/// Why a quantity string is invalid.
#[derive(Debug, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
)]
pub struct QuantityError(pub String);

/// Parses a quantity into thousandths of its unit, rounding up.
pub fn parse_milli(text: &str) -> Result<i128, QuantityError> {
    let bad = || QuantityError(text.to_string());
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    if !whole
        .chars()
        .chain(fraction.chars())
        .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    // Value as an integer numerator over 10^scale.
    let mut numerator: i128 = 0;
    for c in whole.chars().chain(fraction.chars()) {
        numerator = numerator
            .checked_mul(10)
            .and_then(|n| n.checked_add(i128::from(c as u8 - b'0')))
            .ok_or_else(bad)?;
    }
    let scale = fraction.len() as u32;
    let (mult_num, mult_den) = suffix_factor(suffix).ok_or_else(bad)?;
    let numerator = numerator
        .checked_mul(mult_num)
        .and_then(|n| n.checked_mul(1000))
        .ok_or_else(bad)?;
    let denominator = mult_den
        .checked_mul(10i128.checked_pow(scale).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    let value = (numerator + denominator - 1) / denominator;
    Ok(if negative { -value } else { value })
}

/// Parses a quantity into whole units, rounding up (bytes, cores rounded up).
pub fn parse_units(text: &str) -> Result<i128, QuantityError> {
    Ok((parse_milli(text)? + 999).div_euclid(1000))
}

fn suffix_factor(suffix: &str) -> Option<(i128, i128)> {
    let binary = |p: u32| Some((1i128 << (10 * p), 1));
    let decimal = |p: u32| Some((10i128.pow(p), 1));
    match suffix {
        "" => Some((1, 1)),
        "n" => Some((1, 1_000_000_000)),
        "u" => Some((1, 1_000_000)),
        "m" => Some((1, 1000)),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        other => {
            let exponent = other.strip_prefix(['e', 'E'])?.parse::<u32>().ok()?;
            decimal(exponent)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_milli("250m").unwrap(), 250);
        assert_eq!(parse_milli("1.5").unwrap(), 1500);
        assert_eq!(parse_milli("2").unwrap(), 2000);
        assert_eq!(parse_units("64Mi").unwrap(), 64 * 1024 * 1024);
        assert_eq!(parse_units("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_units("1e3").unwrap(), 1000);
        assert_eq!(parse_units("0.5Ki").unwrap(), 512);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_milli("abc").is_err());
        assert!(parse_milli("1Qi").is_err());
        assert!(parse_milli("").is_err());
    }
}
