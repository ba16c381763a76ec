//! Label selector matching of `metav1.LabelSelector` values.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Error evaluating a label selector.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(String);

/// Returns whether `labels` satisfy `selector`. As in Kubernetes, a missing
/// selector matches nothing and an empty one matches everything.
pub fn matches(
    selector: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<bool, SelectorError> {
    let Some(selector) = selector else {
        return Ok(false);
    };
    let parsed = skiff_machinery::selector::LabelSelector::from_label_selector(selector)
        .map_err(|error| SelectorError(error.to_string()))?;
    let empty = BTreeMap::new();
    Ok(parsed.matches(labels.unwrap_or(&empty)))
}

/// Returns whether `selector` has neither labels nor expressions, which
/// selects every object.
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: Some(values.iter().map(|value| value.to_string()).collect()),
        }
    }

    #[test]
    fn missing_selector_matches_nothing() {
        assert!(!matches(None, Some(&labels(&[("app", "web")]))).unwrap());
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(matches(Some(&LabelSelector::default()), None).unwrap());
    }

    #[test]
    fn match_labels_and_expressions() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                requirement("tier", "In", &["front", "edge"]),
                requirement("canary", "DoesNotExist", &[]),
                requirement("zone", "NotIn", &["b"]),
            ]),
        };
        let good = labels(&[("app", "web"), ("tier", "edge"), ("zone", "a")]);
        assert!(matches(Some(&selector), Some(&good)).unwrap());
        let canary = labels(&[("app", "web"), ("tier", "edge"), ("canary", "1")]);
        assert!(!matches(Some(&selector), Some(&canary)).unwrap());
        let wrong_tier = labels(&[("app", "web"), ("tier", "back")]);
        assert!(!matches(Some(&selector), Some(&wrong_tier)).unwrap());
        let wrong_zone = labels(&[("app", "web"), ("tier", "front"), ("zone", "b")]);
        assert!(!matches(Some(&selector), Some(&wrong_zone)).unwrap());
    }

    #[test]
    fn unknown_operator_is_an_error() {
        let selector = LabelSelector {
            match_expressions: Some(vec![requirement("a", "Near", &[])]),
            ..Default::default()
        };
        assert!(matches(Some(&selector), None).is_err());
    }
}
