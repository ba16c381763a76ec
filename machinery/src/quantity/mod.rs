//! Resource quantities (`250m`, `1.5`, `64Mi`, `1Gi`, `1e3`), parsed exactly
//! as Kubernetes' `resource.ParseQuantity` does.

mod format;
mod parse;

use std::cmp::Ordering;
use std::fmt;

pub use parse::{FORMAT_MESSAGE, SUFFIX_MESSAGE};

/// Why a quantity string is invalid, in Kubernetes' wording.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuantityError(pub String);

/// The suffix family a quantity was written with, kept for formatting it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityFormat {
    /// Decimal SI suffixes: `m`, `k`, `M`, `G`, `T`, `P`, `E`, or none.
    DecimalSi,
    /// Binary SI suffixes: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySi,
    /// A decimal exponent: `1e3`, `5E-3`.
    DecimalExponent,
}

/// A parsed quantity, held exactly as an integer count of nano-units
/// (Kubernetes rounds every quantity up to nine decimal places).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    nanos: i128,
    format: QuantityFormat,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;

impl Quantity {
    /// Parses a quantity string; see [`QuantityError`] for the rejections.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        parse::parse(text)
    }

    /// Builds a quantity from a count of nano-units.
    pub fn from_nanos(nanos: i128, format: QuantityFormat) -> Self {
        Self { nanos, format }
    }

    /// The exact value in nano-units (billionths).
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The suffix family the quantity was written with.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// The value in thousandths (millicores for CPU), rounded up.
    pub fn milli_value(&self) -> i128 {
        ceil_div(self.nanos, NANOS_PER_UNIT / 1000)
    }

    /// The value in whole units (bytes for memory), rounded up.
    pub fn value(&self) -> i128 {
        ceil_div(self.nanos, NANOS_PER_UNIT)
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.nanos.cmp(&other.nanos))
    }
}

impl fmt::Display for Quantity {
    /// Writes the canonical form Kubernetes serializes (`1.5` as `1500m`,
    /// `1.5Gi` as `1536Mi`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format::canonical(self.nanos, self.format))
    }
}

/// Divides, rounding toward positive infinity.
fn ceil_div(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    if numerator % denominator > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// Parses a quantity into thousandths of its unit (millicores for CPU,
/// thousandths of a byte for memory), rounding up as Kubernetes does.
pub fn parse_milli(quantity: &str) -> Result<i128, QuantityError> {
    Ok(Quantity::parse(quantity)?.milli_value())
}

/// Parses a CPU quantity into millicores (`250m` is 250, `1.5` is 1500).
pub fn cpu_millicores(quantity: &str) -> Result<i64, QuantityError> {
    Ok(saturate_i64(Quantity::parse(quantity)?.milli_value()))
}

/// Parses a memory or storage quantity into bytes (`64Mi` is 67108864).
pub fn memory_bytes(quantity: &str) -> Result<i64, QuantityError> {
    Ok(saturate_i64(Quantity::parse(quantity)?.value()))
}

fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests;
