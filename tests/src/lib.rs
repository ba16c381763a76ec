//! Shared harness of the end-to-end suite: processes, registries, images and
//! clients that tests start for themselves and clean up.

pub mod agent;
pub mod apiserver;
pub mod bench;
pub mod cluster;
pub mod cri;
pub mod images;
pub mod kubectl;
pub mod node;
pub mod process;
pub mod registry;
pub mod shim;
