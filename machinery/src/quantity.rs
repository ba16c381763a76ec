//! Resource quantities (`250m`, `1.5`, `64Mi`, `1Gi`).

/// Why a quantity string is invalid.
#[derive(Debug, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
)]
pub struct QuantityError(pub String);

/// Parses a quantity into thousandths of its unit (millicores for CPU,
/// thousandths of a byte for memory), rounding up as Kubernetes does.
pub fn parse_milli(quantity: &str) -> Result<i128, QuantityError> {
    Err(QuantityError(quantity.to_string()))
}
