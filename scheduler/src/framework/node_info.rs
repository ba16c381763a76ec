//! The scheduler's view of one node: what it offers and what its pods,
//! bound or assumed, already take.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Taint};

use super::pod_info::{HostPort, PodUsage};
use super::quantity;
use super::resources::Resources;

/// The fields of a Node object that decide where pods may go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeSpecView {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (set by `kubectl cordon`).
    pub unschedulable: bool,
    /// Whether the `Ready` condition is `True`.
    pub ready: bool,
    pub allocatable: Resources,
    /// `status.allocatable.pods`.
    pub allowed_pods: i64,
}

impl NodeSpecView {
    pub fn from_node(node: &Node) -> Self {
        let spec = node.spec.clone().unwrap_or_default();
        let status = node.status.clone().unwrap_or_default();
        let allocatable = status.allocatable.unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|condition| condition.type_ == "Ready" && condition.status == "True");
        Self {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: spec.taints.unwrap_or_default(),
            unschedulable: spec.unschedulable.unwrap_or(false),
            ready,
            allowed_pods: allocatable.get("pods").map(quantity::value).unwrap_or(0),
            allocatable: Resources::from_list(&allocatable),
        }
    }
}

/// The sum of what the pods placed on a node take.
#[derive(Clone, Debug, Default)]
pub struct NodeUsage {
    pub requested: Resources,
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub pod_count: i64,
    /// Addresses bound per (protocol, port), one entry per binding pod.
    pub host_ports: HashMap<(String, i32), Vec<String>>,
    /// Number of pods per controller UID.
    pub owners: HashMap<String, u32>,
}

impl NodeUsage {
    pub fn add(&mut self, pod: &PodUsage) {
        self.requested.add(&pod.requests);
        self.non_zero_cpu += pod.non_zero_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.pod_count += 1;
        for port in &pod.host_ports {
            self.host_ports
                .entry((port.protocol.clone(), port.port))
                .or_default()
                .push(port.ip.clone());
        }
        if let Some(owner) = &pod.owner_uid {
            *self.owners.entry(owner.clone()).or_default() += 1;
        }
    }

    pub fn remove(&mut self, pod: &PodUsage) {
        self.requested.subtract(&pod.requests);
        self.non_zero_cpu -= pod.non_zero_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        self.pod_count -= 1;
        for port in &pod.host_ports {
            let key = (port.protocol.clone(), port.port);
            if let Some(addresses) = self.host_ports.get_mut(&key) {
                if let Some(index) = addresses.iter().position(|ip| *ip == port.ip) {
                    addresses.swap_remove(index);
                }
                if addresses.is_empty() {
                    self.host_ports.remove(&key);
                }
            }
        }
        if let Some(owner) = &pod.owner_uid
            && let Some(count) = self.owners.get_mut(owner)
        {
            *count -= 1;
            if *count == 0 {
                self.owners.remove(owner);
            }
        }
    }

    /// Returns whether `port` collides with a port already bound: same
    /// protocol and number, and either address is `0.0.0.0` or both match.
    pub fn port_conflicts(&self, port: &HostPort) -> bool {
        let Some(addresses) = self.host_ports.get(&(port.protocol.clone(), port.port)) else {
            return false;
        };
        addresses
            .iter()
            .any(|ip| ip == "0.0.0.0" || port.ip == "0.0.0.0" || *ip == port.ip)
    }
}

/// A node with its current usage.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub node: NodeSpecView,
    pub usage: NodeUsage,
}
