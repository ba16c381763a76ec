//! Settings of one kubelet.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Taint;

/// Settings of one kubelet.
#[derive(Clone, Debug)]
pub struct Config {
    pub node_name: String,
    /// Unix socket of the CRI runtime.
    pub cri_socket: PathBuf,
    /// Directory for pod volumes, logs and kubelet state.
    pub root_dir: PathBuf,
    /// Address the node API (logs, exec) listens on.
    pub address: IpAddr,
    /// Port of the node API; 0 picks a free one.
    pub port: u16,
    /// The node's InternalIP; detected from the default route when unset.
    pub node_ip: Option<IpAddr>,
    /// Labels added to the node besides the well-known ones.
    pub node_labels: BTreeMap<String, String>,
    /// Taints the node registers with.
    pub taints: Vec<Taint>,
    /// Resources held back from pods (kube-reserved plus system-reserved),
    /// by resource name (`cpu`, `memory`, `ephemeral-storage`, `pid`).
    pub reserved: BTreeMap<String, String>,
    /// Pod CIDR recorded in the node spec.
    pub pod_cidr: Option<String>,
    /// Most pods the node accepts.
    pub max_pods: u32,
    /// Cgroup parent of the pod sandboxes (absolute, cgroupfs layout).
    pub cgroup_parent: String,
}

impl Config {
    /// A configuration with the defaults of everything but the essentials.
    pub fn new(node_name: impl Into<String>, cri_socket: PathBuf, root_dir: PathBuf) -> Config {
        Config {
            node_name: node_name.into(),
            cri_socket,
            root_dir,
            address: IpAddr::from([127, 0, 0, 1]),
            port: 10250,
            node_ip: None,
            node_labels: BTreeMap::new(),
            taints: Vec::new(),
            reserved: BTreeMap::new(),
            pod_cidr: None,
            max_pods: 110,
            cgroup_parent: "/kubepods".to_string(),
        }
    }
}
