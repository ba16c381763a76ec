//! The quantity grammar: `[+-]digits[.digits][suffix]`, with the same
//! leniencies and rejections as Kubernetes' `parseQuantityString`.

use super::{Quantity, QuantityError, QuantityFormat};

/// Kubernetes' message for a quantity that does not fit the grammar.
pub const FORMAT_MESSAGE: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Kubernetes' message for a well-formed quantity with an unknown suffix.
pub const SUFFIX_MESSAGE: &str = "unable to parse quantity's suffix";

const SUFFIX_CHARACTERS: &[u8] = b"eEinumkKMGTP";

/// The multiplier a suffix stands for: `10^decimal * 1024^binary`.
struct Scale {
    decimal: i32,
    binary: u32,
    format: QuantityFormat,
}

/// The pieces of a quantity string before any arithmetic.
struct Parts<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    suffix: &'a str,
}

pub(super) fn parse(text: &str) -> Result<Quantity, QuantityError> {
    if text.is_empty() {
        return Err(format_error());
    }
    let parts = split(text)?;
    let scale =
        interpret_suffix(parts.suffix).ok_or_else(|| QuantityError(SUFFIX_MESSAGE.into()))?;
    let magnitude = scaled_nanos(parts.integer, parts.fraction, &scale);
    let nanos = if parts.negative {
        -magnitude
    } else {
        magnitude
    };
    Ok(Quantity::from_nanos(nanos, scale.format))
}

fn format_error() -> QuantityError {
    QuantityError(FORMAT_MESSAGE.into())
}

/// Splits sign, digits and suffix. Like Kubernetes, a lone sign or `1.`
/// is accepted and means zero or one.
fn split(text: &str) -> Result<Parts<'_>, QuantityError> {
    let bytes = text.as_bytes();
    let mut position = 0;
    let mut negative = false;
    if let Some(&sign) = bytes.first()
        && (sign == b'-' || sign == b'+')
    {
        negative = sign == b'-';
        position = 1;
    }
    let integer_start = position;
    position = skip_digits(bytes, position);
    let integer = &text[integer_start..position];
    let mut fraction = "";
    if bytes.get(position) == Some(&b'.') {
        let fraction_start = position + 1;
        position = skip_digits(bytes, fraction_start);
        fraction = &text[fraction_start..position];
    }
    let suffix_start = position;
    while position < bytes.len() && SUFFIX_CHARACTERS.contains(&bytes[position]) {
        position += 1;
    }
    if matches!(bytes.get(position), Some(b'-' | b'+')) {
        position += 1;
    }
    position = skip_digits(bytes, position);
    if position != bytes.len() {
        return Err(format_error());
    }
    Ok(Parts {
        negative,
        integer,
        fraction,
        suffix: &text[suffix_start..],
    })
}

fn skip_digits(bytes: &[u8], mut position: usize) -> usize {
    while position < bytes.len() && bytes[position].is_ascii_digit() {
        position += 1;
    }
    position
}

fn interpret_suffix(suffix: &str) -> Option<Scale> {
    let decimal = |exponent| Scale {
        decimal: exponent,
        binary: 0,
        format: QuantityFormat::DecimalSi,
    };
    let binary = |power| Scale {
        decimal: 0,
        binary: power,
        format: QuantityFormat::BinarySi,
    };
    let scale = match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
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
        _ => return exponent_suffix(suffix),
    };
    Some(scale)
}

/// Reads `e3`, `E-2` and the like.
fn exponent_suffix(suffix: &str) -> Option<Scale> {
    let rest = suffix.strip_prefix(['e', 'E'])?;
    if rest.is_empty() {
        return None;
    }
    let exponent: i64 = rest.parse().ok()?;
    Some(Scale {
        decimal: i32::try_from(exponent.clamp(-1000, 1000)).ok()?,
        binary: 0,
        format: QuantityFormat::DecimalExponent,
    })
}

/// Computes `integer.fraction * 10^decimal * 1024^binary` in nano-units,
/// rounding up the digits below a nano-unit and saturating on overflow.
fn scaled_nanos(integer: &str, fraction: &str, scale: &Scale) -> i128 {
    let integer = integer.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let mut digits: i128 = 0;
    let mut saturated = false;
    for byte in integer.bytes().chain(fraction.bytes()) {
        let digit = i128::from(byte - b'0');
        match digits.checked_mul(10).and_then(|d| d.checked_add(digit)) {
            Some(next) => digits = next,
            None => {
                saturated = true;
                break;
            }
        }
    }
    if saturated {
        return i128::MAX;
    }
    let binary_factor = 1024_i128.pow(scale.binary);
    let digits = digits.saturating_mul(binary_factor);
    let fraction_len = i32::try_from(fraction.len()).unwrap_or(i32::MAX);
    let power = 9_i32
        .saturating_add(scale.decimal)
        .saturating_sub(fraction_len);
    if power >= 0 {
        if digits == 0 {
            return 0;
        }
        match 10_i128.checked_pow(power.unsigned_abs()) {
            Some(factor) => digits.saturating_mul(factor),
            None => i128::MAX,
        }
    } else {
        match 10_i128.checked_pow(power.unsigned_abs()) {
            Some(divisor) => super::ceil_div(digits, divisor),
            None => i128::from(digits > 0),
        }
    }
}
