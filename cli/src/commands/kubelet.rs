//! `skiff kubelet`: the node agent alone, against a running CRI runtime.

use std::net::IpAddr;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the apiserver to use; defaults to $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Name to register the node under.
    #[arg(long)]
    node_name: String,
    /// Unix socket of the CRI runtime.
    #[arg(long, default_value = "/run/skiff/shim.sock")]
    cri_socket: PathBuf,
    /// Directory for pod volumes, logs and kubelet state.
    #[arg(long, default_value = "/var/lib/skiff/kubelet")]
    root_dir: PathBuf,
    /// Address the node API (logs, exec) listens on.
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    /// Port of the node API.
    #[arg(long, default_value_t = 10250)]
    port: u16,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::client::from_kubeconfig(args.kubeconfig.as_deref()).await?;
    let config = skiff_kubelet::Config {
        node_name: args.node_name,
        cri_socket: args.cri_socket,
        root_dir: args.root_dir,
        address: args.address,
        port: args.port,
    };
    skiff_kubelet::run(client, config, super::signals::shutdown_token()).await?;
    Ok(())
}
