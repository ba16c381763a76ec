//! Conversion of resource quantities into the integer units the scheduler
//! compares: millicores for CPU, bytes for memory and storage, whole units for
//! pods and extended resources.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Returns the quantity in thousandths of its unit, rounded up, or `None`
/// when the string is not a valid quantity.
pub fn to_milli(quantity: &Quantity) -> Option<i128> {
    skiff_machinery::quantity::parse_milli(&quantity.0).ok()
}

/// Returns the quantity in millicores (for CPU), rounded up; an invalid
/// quantity counts as zero (the apiserver rejects those on write).
pub fn milli_value(quantity: &Quantity) -> i64 {
    to_milli(quantity).map(saturate).unwrap_or(0)
}

/// Returns the quantity in whole units (bytes for memory), rounded up as
/// `resource.Quantity.Value()` does; an invalid quantity counts as zero.
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
