//! Scores from resource use: least allocated and balanced allocation, both
//! over CPU and memory with the non-zero defaults for unset requests.

use super::MAX_NODE_SCORE;
use crate::framework::{NodeInfo, PodInfo};

/// Scores the share of CPU and memory left free after placing the pod,
/// averaged: an empty node scores 100, a full one 0.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let (cpu, memory) = after_placement(pod, node);
    let allocatable = &node.node.allocatable;
    (free_share(cpu, allocatable.milli_cpu) + free_share(memory, allocatable.memory)) / 2
}

/// Scores how evenly the pod leaves CPU and memory used: 100 when both are
/// used in the same proportion, less as they drift apart.
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let (cpu, memory) = after_placement(pod, node);
    let allocatable = &node.node.allocatable;
    let cpu_fraction = used_fraction(cpu, allocatable.milli_cpu);
    let memory_fraction = used_fraction(memory, allocatable.memory);
    // The standard deviation of two values is half their difference.
    let deviation = (cpu_fraction - memory_fraction).abs() / 2.0;
    ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
}

fn after_placement(pod: &PodInfo, node: &NodeInfo) -> (i64, i64) {
    (
        node.usage.non_zero_cpu + pod.usage.non_zero_cpu,
        node.usage.non_zero_memory + pod.usage.non_zero_memory,
    )
}

fn free_share(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

fn used_fraction(requested: i64, capacity: i64) -> f64 {
    if capacity <= 0 {
        return 1.0;
    }
    (requested as f64 / capacity as f64).min(1.0)
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

    /// The test node offers cpu 4 and memory 8Gi.
    #[test]
    fn least_allocated_table() {
        let cases = [
            (json!({"cpu": "1", "memory": "2Gi"}), 75),
            (json!({"cpu": "2", "memory": "2Gi"}), 62),
            (json!({"cpu": "4", "memory": "8Gi"}), 0),
            (json!({"cpu": "8", "memory": "4Gi"}), 25),
        ];
        let node = node_info(json!({}));
        for (requests, expected) in cases {
            assert_eq!(
                least_allocated(&requesting(requests.clone()), &node),
                expected,
                "requests {requests}"
            );
        }
    }

    #[test]
    fn least_allocated_prefers_emptier_node() {
        let pod = requesting(json!({"cpu": "250m", "memory": "64Mi"}));
        let empty = node_info(json!({}));
        let mut busy = node_info(json!({}));
        busy.usage
            .add(&requesting(json!({"cpu": "2", "memory": "4Gi"})).usage);
        assert!(least_allocated(&pod, &empty) > least_allocated(&pod, &busy));
    }

    #[test]
    fn balanced_allocation_table() {
        let cases = [
            (json!({"cpu": "1", "memory": "2Gi"}), 100),
            (json!({"cpu": "2", "memory": "2Gi"}), 87),
            (json!({"cpu": "4", "memory": "64Mi"}), 50),
        ];
        let node = node_info(json!({}));
        for (requests, expected) in cases {
            assert_eq!(
                balanced_allocation(&requesting(requests.clone()), &node),
                expected,
                "requests {requests}"
            );
        }
    }

    #[test]
    fn pod_without_requests_counts_defaults() {
        let pod = requesting(json!({}));
        let node = node_info(json!({}));
        // 100m of 4 cores and 200Mi of 8Gi leave 97% and 97% free.
        assert_eq!(least_allocated(&pod, &node), 97);
    }
}
