//! `nodeSelector` and node affinity.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

use super::Reason;
use crate::framework::{NodeSpecView, PodInfo};

/// Rejects a node that misses a `nodeSelector` label or matches none of the
/// required node affinity terms.
pub fn required(pod: &PodInfo, node: &NodeSpecView) -> Option<Reason> {
    let selector_matches = pod
        .node_selector
        .iter()
        .all(|(key, value)| node.labels.get(key) == Some(value));
    let terms_match = match &pod.required_terms {
        Some(terms) => terms.iter().any(|term| term_matches(term, node)),
        None => true,
    };
    (!(selector_matches && terms_match)).then_some(Reason::AffinityMismatch)
}

/// Sums the weights of the preferred terms the node matches.
pub fn preferred_weight(pod: &PodInfo, node: &NodeSpecView) -> i64 {
    pod.preferred_terms
        .iter()
        .filter(|term| term.weight != 0 && term_matches(&term.preference, node))
        .map(|term| i64::from(term.weight))
        .sum()
}

/// Returns whether every expression and field requirement of the term holds.
/// A term without any requirement matches no node, as in Kubernetes.
pub fn term_matches(term: &NodeSelectorTerm, node: &NodeSpecView) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let labels_match = expressions
        .iter()
        .all(|requirement| requirement_matches(requirement, node.labels.get(&requirement.key)));
    let fields_match = fields.iter().all(|requirement| {
        // `metadata.name` is the only field node affinity supports.
        requirement.key == "metadata.name"
            && matches!(requirement.operator.as_str(), "In" | "NotIn")
            && requirement_matches(requirement, Some(&node.name))
    });
    labels_match && fields_match
}

/// Evaluates one requirement against the node's value for its key.
fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|value| values.contains(value)),
        "NotIn" => value.is_none_or(|value| !values.contains(value)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => compare_integers(&requirement.operator, values, value),
        _ => false,
    }
}

/// `Gt` and `Lt` take exactly one integer value and compare the label's
/// value, which must also be an integer, against it.
fn compare_integers(operator: &str, values: &[String], value: Option<&String>) -> bool {
    let [bound] = values else {
        return false;
    };
    let (Ok(bound), Some(Ok(actual))) = (bound.parse::<i64>(), value.map(|v| v.parse::<i64>()))
    else {
        return false;
    };
    if operator == "Gt" {
        actual > bound
    } else {
        actual < bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_view, pod_info};
    use serde_json::{Value, json};

    fn labelled_node() -> NodeSpecView {
        node_view(json!({"metadata": {"labels": {
            "disk": "ssd", "zone": "a", "cores": "16"
        }}}))
    }

    fn required_terms(terms: Value) -> Value {
        json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }}})
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> Value {
        json!({"key": key, "operator": operator, "values": values})
    }

    #[test]
    fn node_selector_needs_every_label() {
        let node = labelled_node();
        let cases = [
            (json!({}), true),
            (json!({"nodeSelector": {"disk": "ssd"}}), true),
            (json!({"nodeSelector": {"disk": "ssd", "zone": "a"}}), true),
            (json!({"nodeSelector": {"disk": "hdd"}}), false),
            (json!({"nodeSelector": {"gpu": "yes"}}), false),
        ];
        for (spec, fits) in cases {
            assert_eq!(
                required(&pod_info(spec.clone()), &node).is_none(),
                fits,
                "spec {spec}"
            );
        }
    }

    #[test]
    fn match_expression_operators() {
        let node = labelled_node();
        let cases = [
            (expression("disk", "In", &["ssd", "nvme"]), true),
            (expression("disk", "In", &["hdd"]), false),
            (expression("missing", "In", &["x"]), false),
            (expression("disk", "NotIn", &["hdd"]), true),
            (expression("disk", "NotIn", &["ssd"]), false),
            (expression("missing", "NotIn", &["x"]), true),
            (expression("disk", "Exists", &[]), true),
            (expression("missing", "Exists", &[]), false),
            (expression("missing", "DoesNotExist", &[]), true),
            (expression("disk", "DoesNotExist", &[]), false),
            (expression("cores", "Gt", &["8"]), true),
            (expression("cores", "Gt", &["16"]), false),
            (expression("cores", "Lt", &["32"]), true),
            (expression("cores", "Lt", &["4"]), false),
            (expression("disk", "Gt", &["1"]), false),
            (expression("cores", "Gt", &["1", "2"]), false),
            (expression("missing", "Lt", &["10"]), false),
        ];
        for (requirement, fits) in cases {
            let spec = required_terms(json!([{"matchExpressions": [requirement.clone()]}]));
            assert_eq!(
                required(&pod_info(spec), &node).is_none(),
                fits,
                "requirement {requirement}"
            );
        }
    }

    #[test]
    fn terms_are_ored_and_requirements_anded() {
        let node = labelled_node();
        let one_term_both = required_terms(json!([{"matchExpressions": [
            expression("disk", "In", &["ssd"]), expression("zone", "In", &["b"])
        ]}]));
        assert_eq!(
            required(&pod_info(one_term_both), &node),
            Some(Reason::AffinityMismatch)
        );
        let two_terms = required_terms(json!([
            {"matchExpressions": [expression("zone", "In", &["b"])]},
            {"matchExpressions": [expression("disk", "In", &["ssd"])]},
        ]));
        assert_eq!(required(&pod_info(two_terms), &node), None);
        let empty_term = required_terms(json!([{}]));
        assert_eq!(
            required(&pod_info(empty_term), &node),
            Some(Reason::AffinityMismatch)
        );
    }

    #[test]
    fn match_fields_on_node_name() {
        let node = labelled_node();
        let cases = [
            (expression("metadata.name", "In", &["node-a"]), true),
            (expression("metadata.name", "In", &["node-b"]), false),
            (expression("metadata.name", "NotIn", &["node-b"]), true),
            (expression("metadata.name", "NotIn", &["node-a"]), false),
            (expression("metadata.uid", "In", &["node-a"]), false),
        ];
        for (requirement, fits) in cases {
            let spec = required_terms(json!([{"matchFields": [requirement.clone()]}]));
            assert_eq!(
                required(&pod_info(spec), &node).is_none(),
                fits,
                "requirement {requirement}"
            );
        }
    }

    #[test]
    fn selector_and_affinity_both_apply() {
        let node = labelled_node();
        let mut spec =
            required_terms(json!([{"matchExpressions": [expression("zone", "In", &["a"])]}]));
        spec["nodeSelector"] = json!({"disk": "hdd"});
        assert_eq!(
            required(&pod_info(spec), &node),
            Some(Reason::AffinityMismatch)
        );
    }

    #[test]
    fn preferred_weights_sum_over_matching_terms() {
        let node = labelled_node();
        let spec = json!({"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [expression("disk", "In", &["ssd"])]}},
                {"weight": 5, "preference": {"matchExpressions": [expression("zone", "In", &["a"])]}},
                {"weight": 50, "preference": {"matchExpressions": [expression("zone", "In", &["b"])]}},
            ]
        }}});
        assert_eq!(preferred_weight(&pod_info(spec), &node), 15);
    }
}
