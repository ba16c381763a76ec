//! The node agent: registers the node and runs the pods bound to it through CRI.

use std::net::IpAddr;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Settings of one kubelet.
#[derive(Clone, Debug)]
pub struct Config {
    pub node_name: String,
    /// Unix socket of the CRI runtime.
    pub cri_socket: PathBuf,
    /// Directory for pod volumes, logs and kubelet state.
    pub root_dir: PathBuf,
    /// Address the node API (logs, exec) listens on.
    pub address: IpAddr,
    pub port: u16,
}

/// Errors that stop the kubelet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not implemented yet")]
    NotImplemented,
}

/// Runs until `shutdown` is cancelled.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let _ = (client, config, shutdown);
    Err(Error::NotImplemented)
}
