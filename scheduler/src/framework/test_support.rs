//! Builders of pods and nodes for unit tests.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::{NodeInfo, NodeSpecView, PodInfo};

/// Builds a pending pod named `default/p` whose spec is `spec`, with one
/// container when `spec` names none.
pub fn pod_info(spec: Value) -> PodInfo {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    }
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-p"},
        "spec": spec,
    }))
    .expect("valid pod");
    PodInfo::new(Arc::new(pod))
}

/// Builds the Node `node-a`, Ready, with cpu 4, memory 8Gi,
/// ephemeral-storage 10Gi, 110 pods and 2 example.com/gpu, then merges
/// `patch` into it as a JSON merge patch.
pub fn node(patch: Value) -> Node {
    let mut node = json!({
        "metadata": {"name": "node-a"},
        "spec": {},
        "status": {
            "allocatable": {
                "cpu": "4", "memory": "8Gi", "ephemeral-storage": "10Gi",
                "pods": "110", "example.com/gpu": "2"
            },
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    });
    merge(&mut node, patch);
    serde_json::from_value(node).expect("valid node")
}

pub fn node_view(patch: Value) -> NodeSpecView {
    NodeSpecView::from_node(&node(patch))
}

pub fn node_info(patch: Value) -> NodeInfo {
    NodeInfo {
        node: node_view(patch),
        usage: Default::default(),
    }
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}
