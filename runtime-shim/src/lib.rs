//! A CRI `runtime.v1` server that pulls OCI images and runs containers with runc.

pub mod image;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Settings of one shim instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Unix socket the gRPC server listens on.
    pub socket: PathBuf,
    /// Directory for images, layers, bundles and container state.
    pub root: PathBuf,
    /// Path of the runc binary.
    pub runtime: PathBuf,
}

/// Errors that stop the shim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not implemented yet")]
    NotImplemented,
}

/// Serves CRI until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let _ = (config, shutdown);
    Err(Error::NotImplemented)
}
