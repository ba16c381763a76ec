//! Filters on the node's own state: cordoned, named by the pod, Ready.

use k8s_openapi::api::core::v1::Taint;

use super::Reason;
use super::taints::tolerates;
use crate::framework::{NodeSpecView, PodInfo};

/// Taint key that stands for `spec.unschedulable`; a pod tolerating it with
/// effect NoSchedule may still go to a cordoned node.
pub const UNSCHEDULABLE_TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

/// Rejects a cordoned node unless the pod tolerates the unschedulable taint.
pub fn unschedulable(pod: &PodInfo, node: &NodeSpecView) -> Option<Reason> {
    if !node.unschedulable {
        return None;
    }
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT_KEY.to_string(),
        effect: "NoSchedule".to_string(),
        ..Default::default()
    };
    let tolerated = pod
        .tolerations
        .iter()
        .any(|toleration| tolerates(toleration, &taint));
    (!tolerated).then_some(Reason::Unschedulable)
}

/// Rejects every node but the one in `spec.nodeName`, when set.
pub fn node_name(pod: &PodInfo, node: &NodeSpecView) -> Option<Reason> {
    match &pod.node_name {
        Some(name) if *name != node.name => Some(Reason::NodeNameMismatch),
        _ => None,
    }
}

/// Rejects a node whose `Ready` condition is not `True`.
pub fn ready(node: &NodeSpecView) -> Option<Reason> {
    (!node.ready).then_some(Reason::NotReady)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_view, pod_info};
    use serde_json::json;

    #[test]
    fn cordoned_node_rejected_unless_tolerated() {
        let mut node = node_view(json!({}));
        node.unschedulable = true;
        let plain = pod_info(json!({}));
        assert_eq!(unschedulable(&plain, &node), Some(Reason::Unschedulable));
        let tolerant = pod_info(json!({"tolerations": [
            {"key": UNSCHEDULABLE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
        ]}));
        assert_eq!(unschedulable(&tolerant, &node), None);
        node.unschedulable = false;
        assert_eq!(unschedulable(&plain, &node), None);
    }

    #[test]
    fn node_name_must_match() {
        let node = node_view(json!({}));
        let cases = [
            (json!({}), None),
            (json!({"nodeName": "node-a"}), None),
            (
                json!({"nodeName": "node-b"}),
                Some(Reason::NodeNameMismatch),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(
                node_name(&pod_info(spec.clone()), &node),
                expected,
                "spec {spec}"
            );
        }
    }

    #[test]
    fn not_ready_node_rejected() {
        let mut node = node_view(json!({}));
        assert_eq!(ready(&node), None);
        node.ready = false;
        assert_eq!(ready(&node), Some(Reason::NotReady));
    }
}
