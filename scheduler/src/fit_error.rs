//! The message of a pod that fits no node, worded as kube-scheduler's
//! `FitError` (v1.33).

use std::collections::HashMap;

use crate::filters::Reason;

/// Tally of why each node rejected a pod.
#[derive(Clone, Debug, Default)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// How many nodes gave each reason.
    pub reasons: HashMap<Reason, usize>,
    /// Nodes whose rejection no eviction could clear.
    pub unresolvable_nodes: usize,
    /// `spec.preemptionPolicy: Never`.
    pub never_preempts: bool,
}

/// Message for a cluster without nodes.
pub const NO_NODES_MESSAGE: &str = "no nodes available to schedule pods";

impl FitError {
    /// Records one node's rejection.
    pub fn add_node(&mut self, reasons: &[Reason]) {
        if reasons
            .iter()
            .any(|reason| !reason.resolvable_by_preemption())
        {
            self.unresolvable_nodes += 1;
        }
        for reason in reasons {
            *self.reasons.entry(reason.clone()).or_default() += 1;
        }
    }

    /// Renders "0/N nodes are available: <count> <reason>, .... preemption:
    /// ...", with the counts sorted as strings, as kube-scheduler does.
    pub fn message(&self) -> String {
        if self.num_all_nodes == 0 {
            return NO_NODES_MESSAGE.to_string();
        }
        let histogram: Vec<(String, usize)> = self
            .reasons
            .iter()
            .map(|(reason, count)| (reason.message(), *count))
            .collect();
        let mut message = format!(
            "0/{} nodes are available: {}.",
            self.num_all_nodes,
            sorted_counts(histogram)
        );
        message.push_str(" preemption: ");
        message.push_str(&self.preemption_message());
        message
    }

    /// NOTE: this scheduler never evicts pods, so every node where eviction
    /// could help is reported as having no victims, even when lower-priority
    /// pods run there.
    fn preemption_message(&self) -> String {
        if self.never_preempts {
            return "not eligible due to preemptionPolicy=Never.".to_string();
        }
        let resolvable = self.num_all_nodes.saturating_sub(self.unresolvable_nodes);
        let mut histogram = Vec::new();
        if self.unresolvable_nodes > 0 {
            histogram.push((
                "Preemption is not helpful for scheduling".to_string(),
                self.unresolvable_nodes,
            ));
        }
        if resolvable > 0 {
            histogram.push((
                "No preemption victims found for incoming pod".to_string(),
                resolvable,
            ));
        }
        format!(
            "0/{} nodes are available: {}.",
            self.num_all_nodes,
            sorted_counts(histogram)
        )
    }
}

fn sorted_counts(histogram: Vec<(String, usize)>) -> String {
    let mut entries: Vec<String> = histogram
        .into_iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    entries.sort();
    entries.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control_plane_taint() -> Reason {
        Reason::UntoleratedTaint {
            key: "node-role.kubernetes.io/control-plane".to_string(),
            value: String::new(),
        }
    }

    #[test]
    fn message_matches_kube_scheduler() {
        let mut error = FitError {
            num_all_nodes: 3,
            ..Default::default()
        };
        error.add_node(&[Reason::Insufficient("cpu".to_string())]);
        error.add_node(&[Reason::Insufficient("cpu".to_string())]);
        error.add_node(&[control_plane_taint()]);
        assert_eq!(
            error.message(),
            "0/3 nodes are available: 1 node(s) had untolerated taint \
             {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful \
             for scheduling, 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn every_reason_of_a_node_counts() {
        let mut error = FitError {
            num_all_nodes: 1,
            ..Default::default()
        };
        error.add_node(&[
            Reason::Insufficient("cpu".to_string()),
            Reason::Insufficient("memory".to_string()),
        ]);
        assert_eq!(
            error.message(),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. \
             preemption: 0/1 nodes are available: 1 No preemption victims found \
             for incoming pod."
        );
    }

    #[test]
    fn preemption_policy_never() {
        let mut error = FitError {
            num_all_nodes: 1,
            never_preempts: true,
            ..Default::default()
        };
        error.add_node(&[Reason::AffinityMismatch]);
        assert_eq!(
            error.message(),
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. \
             preemption: not eligible due to preemptionPolicy=Never."
        );
    }

    #[test]
    fn no_nodes() {
        assert_eq!(FitError::default().message(), NO_NODES_MESSAGE);
    }
}
