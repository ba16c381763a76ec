//! The Kubernetes REST API served over axum, backed by a `skiff_store::Store`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Settings of one apiserver instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory holding the embedded database.
    pub data_dir: PathBuf,
    pub bind_address: IpAddr,
    /// TCP port; 0 picks a free one.
    pub port: u16,
}

/// Errors that stop the apiserver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("not implemented yet")]
    NotImplemented,
}

/// An apiserver bound to its address but not yet serving.
pub struct Server {
    local_addr: SocketAddr,
}

impl Server {
    /// Opens the store and binds the listener.
    pub async fn bind(config: Config) -> Result<Self, Error> {
        let _ = config;
        Err(Error::NotImplemented)
    }

    /// Returns the address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves requests until `shutdown` is cancelled.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), Error> {
        let _ = shutdown;
        Err(Error::NotImplemented)
    }
}
