//! The pieces of a pod sandbox: namespaces held by bind mounts (no pause
//! process), CNI networking and the files shared by its containers.

pub mod cni;
pub mod files;
pub mod namespaces;
