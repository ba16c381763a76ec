//! `skiff controller-manager`: the controller manager alone.

use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the apiserver to use; defaults to $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Seconds a node's Lease may go unrenewed before the node is marked
    /// unreachable.
    #[arg(long, default_value_t = 40)]
    node_monitor_grace_period: u64,
    /// Seconds a node that never reported gets before it is marked
    /// unreachable.
    #[arg(long, default_value_t = 60)]
    node_startup_grace_period: u64,
    /// Seconds between checks of node Leases.
    #[arg(long, default_value_t = 5)]
    node_monitor_period: u64,
    /// Seconds between full garbage-collector passes.
    #[arg(long, default_value_t = 30)]
    gc_resync_period: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::client::from_kubeconfig(args.kubeconfig.as_deref()).await?;
    let config = skiff_controller_manager::Config {
        node_monitor_grace_period: Duration::from_secs(args.node_monitor_grace_period),
        node_startup_grace_period: Duration::from_secs(args.node_startup_grace_period),
        node_monitor_period: Duration::from_secs(args.node_monitor_period),
        gc_resync_period: Duration::from_secs(args.gc_resync_period),
        ..Default::default()
    };
    skiff_controller_manager::run(client, config, super::signals::shutdown_token()).await?;
    Ok(())
}
