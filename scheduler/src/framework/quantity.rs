//! Conversion of resource quantities into the integer units the scheduler
//! compares: millicores for CPU, bytes for memory and storage, whole units for
//! pods and extended resources.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Returns the quantity in thousandths of its unit, rounded up, or `None`
/// when the string is not a valid quantity.
pub fn to_milli(quantity: &Quantity) -> Option<i128> {
    match skiff_machinery::quantity::parse_milli(&quantity.0) {
        Ok(milli) => Some(milli),
        // TODO: drop the local parser once skiff-machinery's parser is real.
        Err(_) => fallback::parse_milli(&quantity.0),
    }
}

/// Returns the quantity in millicores (for CPU), rounded up.
pub fn milli_value(quantity: &Quantity) -> i64 {
    to_milli(quantity).map(saturate).unwrap_or(0)
}

/// Returns the quantity in whole units (bytes for memory), rounded up as
/// `resource.Quantity.Value()` does.
pub fn value(quantity: &Quantity) -> i64 {
    to_milli(quantity)
        .map(|milli| saturate(div_ceil(milli, 1000)))
        .unwrap_or(0)
}

fn div_ceil(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

fn saturate(value: i128) -> i64 {
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

mod fallback {
    //! A minimal parser used while skiff-machinery's is a placeholder.

    pub fn parse_milli(text: &str) -> Option<i128> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let (negative, number) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let mantissa: i128 = digits.parse().ok()?;
        let (binary_shift, mut decimal_exponent) = suffix_exponents(suffix)?;
        decimal_exponent += 3 - fraction.len() as i32;
        let scaled = mantissa.checked_mul(1i128.checked_shl(binary_shift)?)?;
        let magnitude = if decimal_exponent >= 0 {
            scaled.checked_mul(10i128.checked_pow(decimal_exponent as u32)?)?
        } else {
            let divisor = 10i128.checked_pow(decimal_exponent.unsigned_abs())?;
            scaled / divisor + i128::from(scaled % divisor != 0)
        };
        Some(if negative { -magnitude } else { magnitude })
    }

    fn suffix_exponents(suffix: &str) -> Option<(u32, i32)> {
        let exponents = match suffix {
            "" => (0, 0),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            other => {
                let exponent = other.strip_prefix(['e', 'E'])?;
                (0, exponent.parse().ok()?)
            }
        };
        Some(exponents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity(text.to_string())
    }

    #[test]
    fn cpu_quantities_in_millicores() {
        let cases = [
            ("250m", 250),
            ("1.5", 1500),
            ("2", 2000),
            ("0.1", 100),
            ("1m", 1),
        ];
        for (text, expected) in cases {
            assert_eq!(milli_value(&q(text)), expected, "quantity {text}");
        }
    }

    #[test]
    fn memory_quantities_in_bytes() {
        let cases = [
            ("64Mi", 64 << 20),
            ("1Gi", 1 << 30),
            ("1G", 1_000_000_000),
            ("128974848", 128_974_848),
            ("129e6", 129_000_000),
            ("1.5Gi", 3 << 29),
            ("500m", 1),
        ];
        for (text, expected) in cases {
            assert_eq!(value(&q(text)), expected, "quantity {text}");
        }
    }

    #[test]
    fn invalid_quantity_counts_as_zero() {
        assert_eq!(value(&q("lots")), 0);
        assert_eq!(milli_value(&q("")), 0);
    }
}
