//! A CRI `runtime.v1` server that pulls OCI images and runs containers with runc.
//!
//! All state lives on disk under [`Config::root`], so a restarted shim finds
//! every sandbox and container again. Each container is watched by its own
//! monitor process (see [`monitor`]) that outlives the server.

pub mod cgroup;
pub mod config;
pub mod container;
pub mod image;
pub mod monitor;
pub mod sandbox;
pub mod server;
pub mod service;
pub mod state;
pub mod streaming;

pub use config::Config;
pub use monitor::{MonitorArgs, run_monitor};
pub use server::{Error, run};
