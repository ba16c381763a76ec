//! What every part of the kubelet shares: clients, settings and the pods
//! bound to this node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use k8s_openapi::api::core::v1::Pod;

use crate::config::Config;
use crate::cri::Runtime;
use crate::node::address;

/// Shared state of one running kubelet.
pub struct Context {
    pub client: kube::Client,
    pub runtime: Runtime,
    pub config: Config,
    /// The node's InternalIP, also every pod's hostIP.
    pub host_ip: IpAddr,
    /// Port the node API actually listens on.
    pub port: u16,
    /// Runtime name from CRI Version, the scheme of container IDs.
    pub runtime_name: String,
    /// Pods bound to this node by "namespace/name", as last seen.
    pods: RwLock<HashMap<String, Pod>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        runtime: Runtime,
        config: Config,
        port: u16,
        runtime_name: String,
    ) -> Context {
        let host_ip = config.node_ip.unwrap_or_else(address::detect_node_ip);
        Context {
            client,
            runtime,
            config,
            host_ip,
            port,
            runtime_name,
            pods: RwLock::new(HashMap::new()),
        }
    }

    /// Address other components use to reach the node API.
    pub fn kubelet_address(&self) -> String {
        let ip = if self.config.address.is_unspecified() {
            self.host_ip
        } else {
            self.config.address
        };
        std::net::SocketAddr::new(ip, self.port).to_string()
    }

    /// Records the latest version of a pod bound to this node.
    pub fn remember_pod(&self, pod: &Pod) {
        if let Ok(mut pods) = self.pods.write() {
            pods.insert(pod_key(pod), pod.clone());
        }
    }

    /// Forgets a pod that left the node.
    pub fn forget_pod(&self, pod: &Pod) {
        if let Ok(mut pods) = self.pods.write() {
            let key = pod_key(pod);
            let same = pods.get(&key).map(|p| p.metadata.uid == pod.metadata.uid);
            if same == Some(true) {
                pods.remove(&key);
            }
        }
    }

    /// The pod `namespace/name` if it is bound to this node.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        let pods = self.pods.read().ok()?;
        pods.get(&format!("{namespace}/{name}")).cloned()
    }
}

fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}
