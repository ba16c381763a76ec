//! Filters: whether a pod may run on a node, each returning kube-scheduler's
//! reason strings when it may not.

pub mod affinity;
pub mod node_state;
pub mod ports;
pub mod resources;
pub mod taints;

use crate::framework::{NodeInfo, PodInfo};

/// Why a node cannot take a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Unschedulable,
    NodeNameMismatch,
    AffinityMismatch,
    UntoleratedTaint { key: String, value: String },
    NotReady,
    PortsInUse,
    Insufficient(String),
    TooManyPods,
}

impl Reason {
    /// Returns the reason as kube-scheduler (v1.33) words it in
    /// "0/N nodes are available" messages.
    pub fn message(&self) -> String {
        match self {
            Reason::Unschedulable => "node(s) were unschedulable".to_string(),
            Reason::NodeNameMismatch => "node(s) didn't match the requested node name".to_string(),
            Reason::AffinityMismatch => {
                "node(s) didn't match Pod's node affinity/selector".to_string()
            }
            Reason::UntoleratedTaint { key, value } => {
                format!("node(s) had untolerated taint {{{key}: {value}}}")
            }
            Reason::NotReady => "node(s) were not ready".to_string(),
            Reason::PortsInUse => {
                "node(s) didn't have free ports for the requested pod ports".to_string()
            }
            Reason::Insufficient(resource) => format!("Insufficient {resource}"),
            Reason::TooManyPods => "Too many pods".to_string(),
        }
    }

    /// Returns whether evicting pods could clear the reason. kube-scheduler
    /// marks the other reasons `UnschedulableAndUnresolvable`.
    pub fn resolvable_by_preemption(&self) -> bool {
        matches!(
            self,
            Reason::PortsInUse | Reason::Insufficient(_) | Reason::TooManyPods
        )
    }
}

/// Runs the filters in kube-scheduler's default order and stops at the
/// first that rejects the node.
pub fn check(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    let single = |reason: Option<Reason>| match reason {
        Some(reason) => Err(vec![reason]),
        None => Ok(()),
    };
    single(node_state::unschedulable(pod, &node.node))?;
    single(node_state::node_name(pod, &node.node))?;
    single(taints::untolerated(pod, &node.node))?;
    single(affinity::required(pod, &node.node))?;
    single(node_state::ready(&node.node))?;
    single(ports::conflict(pod, node))?;
    resources::fit(pod, node)
}
