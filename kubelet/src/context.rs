//! State shared by every part of the kubelet: clients, settings and the
//! pods bound to this node.

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
    /// Events about pods, from `kubelet` on this node.
    pub events: skiff_events::Recorder,
    /// Pods bound to this node by "namespace/name", as last seen.
    pods: RwLock<HashMap<String, Pod>>,
}

impl Context {
    /// Records an event about container `container` of `pod`.
    pub fn container_event(
        &self,
        pod: &Pod,
        container: &str,
        event_type: skiff_events::EventType,
        reason: &str,
        message: String,
    ) {
        self.events.record_at(
            pod,
            Some(container_path(pod, container)),
            event_type,
            reason,
            message,
        );
    }

    pub fn new(
        client: kube::Client,
        runtime: Runtime,
        config: Config,
        port: u16,
        runtime_name: String,
    ) -> Context {
        let host_ip = config.node_ip.unwrap_or_else(address::detect_node_ip);
        let events =
            skiff_events::Recorder::new(client.clone(), "kubelet").with_host(&config.node_name);
        Context {
            events,
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

    /// Returns the pod `namespace/name` if it is bound to this node.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        let pods = self.pods.read().ok()?;
        pods.get(&format!("{namespace}/{name}")).cloned()
    }
}

/// Returns the field path events use for one container of a pod, such as
/// `spec.containers{web}`.
pub fn container_path(pod: &Pod, container: &str) -> String {
    let init = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.init_containers.as_ref())
        .is_some_and(|list| list.iter().any(|c| c.name == container));
    let list = if init { "initContainers" } else { "containers" };
    format!("spec.{list}{{{container}}}")
}

fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}
