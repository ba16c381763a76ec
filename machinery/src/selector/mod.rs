//! Label and field selectors of list and watch requests, and the conversion
//! of a `metav1.LabelSelector` for controllers.

mod field;
mod label;
mod lexer;
mod metav1;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, supported_field_labels};
pub use label::{LabelSelector, Operator, Requirement};

/// Why a selector is invalid, carrying Kubernetes' full message
/// (`unable to parse requirement: ...`, `field label not supported: foo`).
/// The apiserver returns it as a 400 BadRequest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

#[cfg(test)]
mod tests;
