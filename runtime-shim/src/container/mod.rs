//! Everything about one container's bundle: the OCI spec, the overlay root
//! filesystem, the process description and the runc commands.

pub mod process;
pub mod rootfs;
pub mod runc;
pub mod seccomp;
pub mod spec;
