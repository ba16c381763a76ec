//! The Node object, its Lease and its status.

pub mod address;
pub mod capacity;
pub mod conditions;
pub mod lease;
pub mod register;
pub mod status;

/// Errors registering or updating the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot register node {node}: {source}")]
    Register {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read the CRI runtime version: {0}")]
    Version(#[source] crate::cri::CriError),
    #[error("cannot serialize the node: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Annotation carrying "IP:port" of the node API, which the apiserver uses
/// to reach this kubelet.
pub const KUBELET_ADDRESS_ANNOTATION: &str = "skiff.dev/kubelet-address";
