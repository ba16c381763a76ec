//! Taints and tolerations.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::Reason;
use crate::framework::{NodeSpecView, PodInfo};

/// Returns whether `toleration` tolerates `taint`: the effects match (or the
/// toleration names none), the keys match (or the toleration's is empty),
/// and the operator holds (`Exists`, or `Equal`/empty with equal values).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// Rejects a node with a NoSchedule or NoExecute taint the pod does not
/// tolerate, naming the first such taint.
pub fn untolerated(pod: &PodInfo, node: &NodeSpecView) -> Option<Reason> {
    node.taints
        .iter()
        .filter(|taint| taint.effect == "NoSchedule" || taint.effect == "NoExecute")
        .find(|taint| {
            !pod.tolerations
                .iter()
                .any(|toleration| tolerates(toleration, taint))
        })
        .map(|taint| Reason::UntoleratedTaint {
            key: taint.key.clone(),
            value: taint.value.clone().unwrap_or_default(),
        })
}

/// Counts the node's PreferNoSchedule taints the pod does not tolerate.
pub fn untolerated_preferences(pod: &PodInfo, node: &NodeSpecView) -> i64 {
    let tolerations: Vec<&Toleration> = pod
        .tolerations
        .iter()
        .filter(|toleration| {
            matches!(
                toleration.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .collect();
    node.taints
        .iter()
        .filter(|taint| taint.effect == "PreferNoSchedule")
        .filter(|taint| {
            !tolerations
                .iter()
                .any(|toleration| tolerates(toleration, taint))
        })
        .count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_view, pod_info};
    use serde_json::{Value, json};

    fn taint(value: Value) -> Taint {
        serde_json::from_value(value).expect("valid taint")
    }

    fn toleration(value: Value) -> Toleration {
        serde_json::from_value(value).expect("valid toleration")
    }

    #[test]
    fn toleration_matrix() {
        let gpu = taint(json!({"key": "gpu", "value": "true", "effect": "NoSchedule"}));
        let cases = [
            (
                json!({"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}),
                true,
            ),
            (json!({"key": "gpu", "value": "true"}), true),
            (
                json!({"key": "gpu", "operator": "Equal", "value": "false"}),
                false,
            ),
            (json!({"key": "gpu", "operator": "Exists"}), true),
            (
                json!({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}),
                true,
            ),
            (
                json!({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}),
                false,
            ),
            (json!({"key": "other", "operator": "Exists"}), false),
            (json!({"operator": "Exists"}), true),
            (json!({"operator": "Exists", "effect": "NoExecute"}), false),
            (
                json!({"key": "gpu", "operator": "Gt", "value": "true"}),
                false,
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(
                tolerates(&toleration(spec.clone()), &gpu),
                expected,
                "toleration {spec}"
            );
        }
    }

    #[test]
    fn empty_taint_value_matches_empty_toleration_value() {
        let control_plane =
            taint(json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}));
        let equal = toleration(
            json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Equal"}),
        );
        assert!(tolerates(&equal, &control_plane));
    }

    #[test]
    fn filter_names_first_untolerated_taint() {
        let node = node_view(json!({"spec": {"taints": [
            {"key": "soft", "effect": "PreferNoSchedule"},
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
            {"key": "evict", "value": "now", "effect": "NoExecute"},
        ]}}));
        let plain = pod_info(json!({}));
        assert_eq!(
            untolerated(&plain, &node),
            Some(Reason::UntoleratedTaint {
                key: "node-role.kubernetes.io/control-plane".to_string(),
                value: String::new()
            })
        );
        assert_eq!(
            Reason::UntoleratedTaint {
                key: "node-role.kubernetes.io/control-plane".to_string(),
                value: String::new()
            }
            .message(),
            "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
        );
        let partial = pod_info(json!({"tolerations": [
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}
        ]}));
        assert_eq!(
            untolerated(&partial, &node),
            Some(Reason::UntoleratedTaint {
                key: "evict".to_string(),
                value: "now".to_string()
            })
        );
        let everything = pod_info(json!({"tolerations": [{"operator": "Exists"}]}));
        assert_eq!(untolerated(&everything, &node), None);
    }

    #[test]
    fn prefer_no_schedule_counted_for_scoring() {
        let node = node_view(json!({"spec": {"taints": [
            {"key": "a", "effect": "PreferNoSchedule"},
            {"key": "b", "effect": "PreferNoSchedule"},
            {"key": "c", "effect": "NoSchedule"},
        ]}}));
        assert_eq!(untolerated_preferences(&pod_info(json!({})), &node), 2);
        let tolerant = pod_info(json!({"tolerations": [{"key": "a", "operator": "Exists"}]}));
        assert_eq!(untolerated_preferences(&tolerant, &node), 1);
        let wrong_effect = pod_info(json!({"tolerations": [
            {"key": "a", "operator": "Exists", "effect": "NoSchedule"}
        ]}));
        assert_eq!(untolerated_preferences(&wrong_effect, &node), 2);
    }
}
