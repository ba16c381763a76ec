//! Scores: how well a feasible node suits a pod, on kube-scheduler's 0 to
//! 100 scale per scoring function, weighted and summed.

pub mod resources;

use crate::filters::{affinity, taints};
use crate::framework::{NodeInfo, PodInfo};

pub const MAX_NODE_SCORE: i64 = 100;

/// Weight of each scoring function in the total, as in kube-scheduler's
/// default profile (v1.33). `same_owner_spread` takes PodTopologySpread's
/// weight for spreading a controller's pods over nodes.
#[derive(Clone, Copy, Debug)]
pub struct Weights {
    pub least_allocated: i64,
    pub balanced_allocation: i64,
    pub node_affinity: i64,
    pub taint_toleration: i64,
    pub same_owner_spread: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            least_allocated: 1,
            balanced_allocation: 1,
            node_affinity: 2,
            taint_toleration: 3,
            same_owner_spread: 2,
        }
    }
}

/// Scores of one node before normalization across the feasible nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawScore {
    pub least_allocated: i64,
    pub balanced_allocation: i64,
    /// Sum of the weights of matching preferred node affinity terms.
    pub node_affinity: i64,
    /// Number of PreferNoSchedule taints the pod does not tolerate.
    pub intolerable_taints: i64,
    /// Number of pods of the same controller already on the node.
    pub same_owner_pods: i64,
}

/// Computes the per-node part of every score.
pub fn raw_score(pod: &PodInfo, node: &NodeInfo) -> RawScore {
    RawScore {
        least_allocated: resources::least_allocated(pod, node),
        balanced_allocation: resources::balanced_allocation(pod, node),
        node_affinity: affinity::preferred_weight(pod, &node.node),
        intolerable_taints: taints::untolerated_preferences(pod, &node.node),
        same_owner_pods: pod
            .usage
            .owner_uid
            .as_ref()
            .and_then(|owner| node.usage.owners.get(owner))
            .map_or(0, |&count| i64::from(count)),
    }
}

/// Normalizes the raw scores over the feasible nodes and returns each
/// node's weighted total, in the order given.
pub fn total_scores(raw: &[RawScore], weights: &Weights) -> Vec<i64> {
    let max_affinity = raw
        .iter()
        .map(|score| score.node_affinity)
        .max()
        .unwrap_or(0);
    let max_taints = raw
        .iter()
        .map(|score| score.intolerable_taints)
        .max()
        .unwrap_or(0);
    let max_owner = raw
        .iter()
        .map(|score| score.same_owner_pods)
        .max()
        .unwrap_or(0);
    raw.iter()
        .map(|score| {
            weights.least_allocated * score.least_allocated
                + weights.balanced_allocation * score.balanced_allocation
                + weights.node_affinity * scale(score.node_affinity, max_affinity)
                + weights.taint_toleration * reverse_scale(score.intolerable_taints, max_taints)
                + weights.same_owner_spread * reverse_scale(score.same_owner_pods, max_owner)
        })
        .collect()
}

/// Maps `value` in 0..=max onto 0..=100.
fn scale(value: i64, max: i64) -> i64 {
    if max == 0 {
        0
    } else {
        value * MAX_NODE_SCORE / max
    }
}

/// Maps `value` in 0..=max onto 100..=0: fewer is better.
fn reverse_scale(value: i64, max: i64) -> i64 {
    if max == 0 {
        MAX_NODE_SCORE
    } else {
        MAX_NODE_SCORE - value * MAX_NODE_SCORE / max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_info, pod_info};
    use serde_json::json;

    fn raw(affinity: i64, taints: i64, owner: i64) -> RawScore {
        RawScore {
            node_affinity: affinity,
            intolerable_taints: taints,
            same_owner_pods: owner,
            ..Default::default()
        }
    }

    #[test]
    fn preferred_affinity_normalized_to_max() {
        let weights = Weights {
            node_affinity: 1,
            ..zero_weights()
        };
        assert_eq!(
            total_scores(&[raw(0, 0, 0), raw(5, 0, 0), raw(10, 0, 0)], &weights),
            [0, 50, 100]
        );
    }

    #[test]
    fn fewer_intolerable_taints_score_higher() {
        let weights = Weights {
            taint_toleration: 1,
            ..zero_weights()
        };
        assert_eq!(
            total_scores(&[raw(0, 0, 0), raw(0, 1, 0), raw(0, 2, 0)], &weights),
            [100, 50, 0]
        );
        assert_eq!(
            total_scores(&[raw(0, 0, 0), raw(0, 0, 0)], &weights),
            [100, 100]
        );
    }

    #[test]
    fn nodes_without_siblings_score_higher() {
        let weights = Weights {
            same_owner_spread: 1,
            ..zero_weights()
        };
        assert_eq!(
            total_scores(&[raw(0, 0, 2), raw(0, 0, 1), raw(0, 0, 0)], &weights),
            [0, 50, 100]
        );
    }

    #[test]
    fn raw_score_counts_same_owner_pods() {
        let sibling = |uid: &str| {
            let mut info = pod_info(json!({}));
            info.usage.owner_uid = Some(uid.to_string());
            info
        };
        let mut node = node_info(json!({}));
        node.usage.add(&sibling("rs-1").usage);
        node.usage.add(&sibling("rs-1").usage);
        node.usage.add(&sibling("rs-2").usage);
        assert_eq!(raw_score(&sibling("rs-1"), &node).same_owner_pods, 2);
        assert_eq!(raw_score(&sibling("rs-3"), &node).same_owner_pods, 0);
        assert_eq!(raw_score(&pod_info(json!({})), &node).same_owner_pods, 0);
    }

    fn zero_weights() -> Weights {
        Weights {
            least_allocated: 0,
            balanced_allocation: 0,
            node_affinity: 0,
            taint_toleration: 0,
            same_owner_spread: 0,
        }
    }
}
