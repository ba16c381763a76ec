//! The data the filters and scores work on: pods, nodes and resources.

pub mod node_info;
pub mod pod_info;
pub mod quantity;
pub mod resources;
#[cfg(test)]
pub mod test_support;

pub use node_info::{NodeInfo, NodeSpecView, NodeUsage};
pub use pod_info::{HostPort, PodInfo, PodUsage};
pub use resources::Resources;
