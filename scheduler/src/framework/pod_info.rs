//! The facts about a pod that filters and scores use, computed once per pod.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Toleration};

use super::resources::{self, Resources};
use crate::filters::affinity::CompiledTerm;

/// A host port a container binds on its node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// `0.0.0.0` when the pod binds every address.
    pub ip: String,
    pub port: i32,
}

/// The requests, host ports and owner a pod brings to the node it runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodUsage {
    pub requests: Resources,
    /// CPU (millicores) and memory (bytes) counted by the scoring functions.
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    /// UID of the controller (ReplicaSet, StatefulSet, ...) owning the pod.
    pub owner_uid: Option<String>,
}

impl PodUsage {
    pub fn from_pod(pod: &Pod) -> Self {
        let (non_zero_cpu, non_zero_memory) = resources::pod_non_zero_requests(pod);
        Self {
            requests: resources::pod_requests(pod),
            non_zero_cpu,
            non_zero_memory,
            host_ports: host_ports(pod),
            owner_uid: controller_uid(pod),
        }
    }
}

/// A pod waiting to be scheduled, with its placement constraints unpacked.
#[derive(Clone, Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    /// `namespace/name`.
    pub key: String,
    pub uid: String,
    pub usage: PodUsage,
    /// `spec.nodeName`: a pod that names a node only fits that node.
    pub node_name: Option<String>,
    pub node_selector: Vec<(String, String)>,
    /// Required node affinity terms; a node must match at least one.
    pub required_terms: Option<Vec<CompiledTerm>>,
    /// Preferred node affinity terms with their weights.
    pub preferred_terms: Vec<(i64, CompiledTerm)>,
    pub tolerations: Vec<Toleration>,
    pub priority: i32,
    /// `spec.preemptionPolicy: Never`.
    pub never_preempts: bool,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> Self {
        let metadata = &pod.metadata;
        let key = pod_key(&pod);
        let uid = metadata.uid.clone().unwrap_or_default();
        let usage = PodUsage::from_pod(&pod);
        let spec = pod.spec.clone().unwrap_or_default();
        let node_affinity = spec.affinity.and_then(|affinity| affinity.node_affinity);
        let required_terms = node_affinity
            .as_ref()
            .and_then(|affinity| {
                affinity
                    .required_during_scheduling_ignored_during_execution
                    .clone()
            })
            .map(|selector| {
                selector
                    .node_selector_terms
                    .iter()
                    .map(CompiledTerm::new)
                    .collect()
            });
        let preferred_terms = node_affinity
            .and_then(|affinity| affinity.preferred_during_scheduling_ignored_during_execution)
            .unwrap_or_default()
            .iter()
            .map(|term| (i64::from(term.weight), CompiledTerm::new(&term.preference)))
            .collect();
        Self {
            key,
            uid,
            usage,
            node_name: spec.node_name.filter(|name| !name.is_empty()),
            node_selector: spec.node_selector.unwrap_or_default().into_iter().collect(),
            required_terms,
            preferred_terms,
            tolerations: spec.tolerations.unwrap_or_default(),
            priority: spec.priority.unwrap_or(0),
            never_preempts: spec.preemption_policy.as_deref() == Some("Never"),
            pod,
        }
    }
}

/// Returns `namespace/name`.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .flat_map(|container| container.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = port.host_port.filter(|&host_port| host_port > 0)?;
            Some(HostPort {
                protocol: port.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                ip: port
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".to_string()),
                port: host_port,
            })
        })
        .collect()
}

fn controller_uid(pod: &Pod) -> Option<String> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.clone())
}
