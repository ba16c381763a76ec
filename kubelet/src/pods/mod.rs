//! Running the pods bound to this node.

pub mod api;
pub mod backoff;
pub mod cleanup;
pub mod container;
pub mod env;
pub mod expand;
pub mod hook_http;
pub mod images;
pub mod manager;
pub mod probe;
pub mod resources;
pub mod sandbox;
pub mod snapshot;
pub mod status;
pub mod terminate;
pub mod worker;
