//! `nodeSelector` and node affinity.

use k8s_openapi::api::core::v1::NodeSelectorTerm;
use skiff_machinery::selector::{LabelSelector, Operator, Requirement};

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
        Some(terms) => terms.iter().any(|term| term.matches(node)),
        None => true,
    };
    (!(selector_matches && terms_match)).then_some(Reason::AffinityMismatch)
}

/// Sums the weights of the preferred terms the node matches.
pub fn preferred_weight(pod: &PodInfo, node: &NodeSpecView) -> i64 {
    pod.preferred_terms
        .iter()
        .filter(|(weight, term)| *weight != 0 && term.matches(node))
        .map(|(weight, _)| weight)
        .sum()
}

/// A node selector term parsed once per pod: label requirements through
/// skiff-machinery's selectors, plus `metadata.name` field requirements.
#[derive(Clone, Debug)]
pub struct CompiledTerm {
    labels: LabelSelector,
    /// (`true` for In, `false` for NotIn, node name).
    node_names: Vec<(bool, String)>,
    /// False for a term without requirements or with an invalid one; such
    /// a term matches no node, as in Kubernetes.
    valid: bool,
}

impl CompiledTerm {
    pub fn new(term: &NodeSelectorTerm) -> Self {
        let expressions = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        let mut valid = !(expressions.is_empty() && fields.is_empty());
        let mut requirements = Vec::new();
        for expression in expressions {
            let values = expression.values.clone().unwrap_or_default();
            let requirement = label_operator(&expression.operator)
                .and_then(|operator| Requirement::new(&expression.key, operator, values).ok());
            match requirement {
                Some(requirement) => requirements.push(requirement),
                None => valid = false,
            }
        }
        let mut node_names = Vec::new();
        for field in fields {
            // Kubernetes accepts only `metadata.name` with In or NotIn and
            // exactly one value here.
            match (
                field.key.as_str(),
                field.operator.as_str(),
                field.values.as_deref(),
            ) {
                ("metadata.name", "In", Some([name])) => node_names.push((true, name.clone())),
                ("metadata.name", "NotIn", Some([name])) => node_names.push((false, name.clone())),
                _ => valid = false,
            }
        }
        Self {
            labels: LabelSelector::from_requirements(requirements),
            node_names,
            valid,
        }
    }

    pub fn matches(&self, node: &NodeSpecView) -> bool {
        self.valid
            && self.labels.matches(&node.labels)
            && self
                .node_names
                .iter()
                .all(|(equal, name)| (*name == node.name) == *equal)
    }
}

fn label_operator(operator: &str) -> Option<Operator> {
    let operator = match operator {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        _ => return None,
    };
    Some(operator)
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
            (expression("disk", "Near", &["ssd"]), false),
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
            (
                expression("metadata.name", "In", &["node-a", "node-b"]),
                false,
            ),
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
