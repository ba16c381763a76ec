//! Canonical quantity text: no fractional digits, the largest suffix that
//! keeps the value exact, and the suffix family the quantity was written in.

use super::{NANOS_PER_UNIT, QuantityFormat};

const DECIMAL_SUFFIXES: [(i32, &str); 10] = [
    (18, "E"),
    (15, "P"),
    (12, "T"),
    (9, "G"),
    (6, "M"),
    (3, "k"),
    (0, ""),
    (-3, "m"),
    (-6, "u"),
    (-9, "n"),
];

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

pub(super) fn canonical(nanos: i128, format: QuantityFormat) -> String {
    if nanos == 0 {
        return "0".to_string();
    }
    match format {
        QuantityFormat::BinarySi => binary(nanos).unwrap_or_else(|| decimal(nanos, false)),
        QuantityFormat::DecimalSi => decimal(nanos, false),
        QuantityFormat::DecimalExponent => decimal(nanos, true),
    }
}

/// Binary form, used only for whole values of at least 1024 in magnitude,
/// as Kubernetes switches smaller or fractional ones to decimal.
fn binary(nanos: i128) -> Option<String> {
    if nanos % NANOS_PER_UNIT != 0 {
        return None;
    }
    let mut mantissa = nanos / NANOS_PER_UNIT;
    if mantissa.abs() < 1024 {
        return None;
    }
    let mut power = 0;
    while power < 6 && mantissa % 1024 == 0 {
        mantissa /= 1024;
        power += 1;
    }
    Some(format!("{mantissa}{}", BINARY_SUFFIXES[power]))
}

fn decimal(nanos: i128, exponent_form: bool) -> String {
    for (exponent, suffix) in DECIMAL_SUFFIXES {
        let divisor = 10_i128.pow((exponent + 9).unsigned_abs());
        if nanos % divisor == 0 {
            let mantissa = nanos / divisor;
            if !exponent_form {
                return format!("{mantissa}{suffix}");
            }
            if exponent == 0 {
                return mantissa.to_string();
            }
            return format!("{mantissa}e{exponent}");
        }
    }
    format!("{nanos}n")
}
