//! Conversion of a `metav1.LabelSelector` (`matchLabels`, `matchExpressions`)
//! into a [`LabelSelector`], as controllers need for their pods.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use super::SelectorError;
use super::label::{LabelSelector, Operator, Requirement};

impl LabelSelector {
    /// Converts a `metav1.LabelSelector` as Kubernetes' `LabelSelectorAsSelector`
    /// does: an empty selector matches everything. A missing selector matches
    /// nothing, which callers express by not calling this.
    pub fn from_label_selector(selector: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            let requirement = Requirement::new(key, Operator::Equals, vec![value.clone()])
                .map_err(SelectorError)?;
            requirements.push(requirement);
        }
        for expression in selector.match_expressions.iter().flatten() {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            };
            let values = expression.values.clone().unwrap_or_default();
            let requirement =
                Requirement::new(&expression.key, operator, values).map_err(SelectorError)?;
            requirements.push(requirement);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// Converts the JSON form of a `metav1.LabelSelector`, as found in a
    /// Deployment's or ReplicaSet's `spec.selector`.
    pub fn from_label_selector_json(selector: &serde_json::Value) -> Result<Self, SelectorError> {
        let selector: metav1::LabelSelector = serde_json::from_value(selector.clone())
            .map_err(|error| SelectorError(format!("invalid label selector: {error}")))?;
        Self::from_label_selector(&selector)
    }
}
