//! One module per subcommand.

pub mod agent;
pub mod apiserver;
pub mod components;
pub mod controller_manager;
pub mod kubelet;
pub mod scheduler;
pub mod server;
pub mod shim;
pub mod shim_monitor;
pub mod signals;
pub mod stop_pods;
