//! Whether the node has room for the pod's requests.

use super::Reason;
use crate::framework::{NodeInfo, PodInfo};

/// Rejects a node whose allocatable resources, less what its pods request,
/// cannot hold the pod, naming every resource that falls short.
pub fn fit(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    let mut reasons = Vec::new();
    if node.usage.pod_count + 1 > node.node.allowed_pods {
        reasons.push(Reason::TooManyPods);
    }
    let wanted = &pod.usage.requests;
    let allocatable = &node.node.allocatable;
    let requested = &node.usage.requested;
    let short = |want: i64, have: i64, used: i64| want > 0 && want > have - used;
    if short(wanted.milli_cpu, allocatable.milli_cpu, requested.milli_cpu) {
        reasons.push(Reason::Insufficient("cpu".to_string()));
    }
    if short(wanted.memory, allocatable.memory, requested.memory) {
        reasons.push(Reason::Insufficient("memory".to_string()));
    }
    if short(
        wanted.ephemeral_storage,
        allocatable.ephemeral_storage,
        requested.ephemeral_storage,
    ) {
        reasons.push(Reason::Insufficient("ephemeral-storage".to_string()));
    }
    for (name, &want) in &wanted.scalar {
        let have = allocatable.scalar.get(name).copied().unwrap_or(0);
        let used = requested.scalar.get(name).copied().unwrap_or(0);
        if short(want, have, used) {
            reasons.push(Reason::Insufficient(name.clone()));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_info, pod_info};
    use serde_json::{Value, json};

    fn requesting(requests: Value) -> PodInfo {
        pod_info(json!({"containers": [
            {"name": "c", "image": "busybox", "resources": {"requests": requests}}
        ]}))
    }

    fn insufficient(resource: &str) -> Reason {
        Reason::Insufficient(resource.to_string())
    }

    /// The test node offers cpu 4, memory 8Gi, ephemeral-storage 10Gi,
    /// 110 pods and 2 example.com/gpu.
    #[test]
    fn fit_table() {
        let cases = [
            (json!({"cpu": "250m", "memory": "64Mi"}), Ok(())),
            (json!({"cpu": "4", "memory": "8Gi"}), Ok(())),
            (json!({"cpu": "4001m"}), Err(vec![insufficient("cpu")])),
            (
                json!({"cpu": "1.5", "memory": "9Gi"}),
                Err(vec![insufficient("memory")]),
            ),
            (
                json!({"cpu": "5", "memory": "8193Mi"}),
                Err(vec![insufficient("cpu"), insufficient("memory")]),
            ),
            (
                json!({"ephemeral-storage": "11Gi"}),
                Err(vec![insufficient("ephemeral-storage")]),
            ),
            (json!({"example.com/gpu": "2"}), Ok(())),
            (
                json!({"example.com/gpu": "3"}),
                Err(vec![insufficient("example.com/gpu")]),
            ),
            (
                json!({"example.com/fpga": "1"}),
                Err(vec![insufficient("example.com/fpga")]),
            ),
        ];
        let node = node_info(json!({}));
        for (requests, expected) in cases {
            assert_eq!(
                fit(&requesting(requests.clone()), &node),
                expected,
                "requests {requests}"
            );
        }
    }

    #[test]
    fn existing_requests_reduce_room() {
        let mut node = node_info(json!({}));
        node.usage
            .add(&requesting(json!({"cpu": "3", "memory": "1Gi"})).usage);
        assert_eq!(fit(&requesting(json!({"cpu": "1"})), &node), Ok(()));
        assert_eq!(
            fit(&requesting(json!({"cpu": "1001m"})), &node),
            Err(vec![insufficient("cpu")])
        );
        node.usage.add(&requesting(json!({"cpu": "1"})).usage);
        assert_eq!(
            fit(&requesting(json!({"cpu": "1m"})), &node),
            Err(vec![insufficient("cpu")])
        );
        // A pod without requests still fits a node with no CPU left.
        assert_eq!(fit(&requesting(json!({})), &node), Ok(()));
    }

    #[test]
    fn pod_count_limit() {
        let node_json = json!({"status": {"allocatable": {"pods": "2"}}});
        let mut node = node_info(node_json);
        let empty = requesting(json!({}));
        node.usage.add(&empty.usage);
        assert_eq!(fit(&empty, &node), Ok(()));
        node.usage.add(&empty.usage);
        assert_eq!(fit(&empty, &node), Err(vec![Reason::TooManyPods]));
    }

    #[test]
    fn overhead_counts_against_the_node() {
        let pod = pod_info(json!({
            "containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": "3800m"}}}],
            "overhead": {"cpu": "250m"},
        }));
        assert_eq!(
            fit(&pod, &node_info(json!({}))),
            Err(vec![insufficient("cpu")])
        );
    }
}
