//! One module per subcommand.

pub mod apiserver;
pub mod controller_manager;
pub mod kubelet;
pub mod scheduler;
pub mod shim;
pub mod shim_monitor;
pub mod signals;
