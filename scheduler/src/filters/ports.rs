//! Host ports.

use super::Reason;
use crate::framework::{NodeInfo, PodInfo};

/// Rejects a node where another pod already binds one of the pod's host ports.
pub fn conflict(pod: &PodInfo, node: &NodeInfo) -> Option<Reason> {
    pod.usage
        .host_ports
        .iter()
        .any(|port| node.usage.port_conflicts(port))
        .then_some(Reason::PortsInUse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_info, pod_info};
    use serde_json::{Value, json};

    fn with_port(port: Value) -> Value {
        json!({"containers": [{"name": "c", "image": "busybox", "ports": [port]}]})
    }

    #[test]
    fn port_conflict_matrix() {
        let cases = [
            (
                json!({"containerPort": 80, "hostPort": 8080}),
                json!({"containerPort": 80, "hostPort": 8080}),
                true,
            ),
            (
                json!({"containerPort": 80, "hostPort": 8080}),
                json!({"containerPort": 80, "hostPort": 8081}),
                false,
            ),
            (
                json!({"containerPort": 80, "hostPort": 8080}),
                json!({"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}),
                false,
            ),
            (
                json!({"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"}),
                json!({"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.2"}),
                false,
            ),
            (
                json!({"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"}),
                json!({"containerPort": 80, "hostPort": 8080}),
                true,
            ),
            (
                json!({"containerPort": 80, "hostPort": 8080}),
                json!({"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"}),
                true,
            ),
            (
                json!({"containerPort": 80}),
                json!({"containerPort": 80}),
                false,
            ),
        ];
        for (existing, wanted, conflicts) in cases {
            let mut node = node_info(json!({}));
            node.usage.add(&pod_info(with_port(existing.clone())).usage);
            let pod = pod_info(with_port(wanted.clone()));
            assert_eq!(
                conflict(&pod, &node).is_some(),
                conflicts,
                "existing {existing}, wanted {wanted}"
            );
        }
    }

    #[test]
    fn removed_pod_frees_its_port() {
        let mut node = node_info(json!({}));
        let existing = pod_info(with_port(json!({"containerPort": 80, "hostPort": 8080})));
        node.usage.add(&existing.usage);
        node.usage.remove(&existing.usage);
        assert_eq!(conflict(&existing, &node), None);
    }
}
