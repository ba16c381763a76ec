//! `skiff agent`: a node (runtime shim and kubelet) joining a running control plane.

use std::path::PathBuf;

use super::components::{self, Components, NodeOptions};

#[derive(clap::Args)]
pub struct Args {
    /// URL of the apiserver, e.g. http://10.0.0.1:6443; overrides the kubeconfig's.
    #[arg(long)]
    server: Option<String>,
    /// Kubeconfig for the apiserver.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Directory for the node's state.
    #[arg(long, default_value = "/var/lib/skiff-agent")]
    data_dir: PathBuf,
    #[command(flatten)]
    node: NodeOptions,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = super::signals::shutdown_token();
    let client = match &args.server {
        Some(server) => {
            crate::client::from_kubeconfig_with_server(&args.kubeconfig, server).await?
        }
        None => crate::client::from_kubeconfig(Some(&args.kubeconfig)).await?,
    };
    let mut components = Components::new(shutdown);
    components::spawn_node(&mut components, client, &args.data_dir, &args.node)?;
    components.wait().await
}
