//! `skiff shim`: the CRI runtime server alone.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Unix socket to serve CRI on.
    #[arg(long, default_value = "/run/skiff/shim.sock")]
    socket: PathBuf,
    /// Directory for images, layers, bundles and container state.
    #[arg(long, default_value = "/var/lib/skiff/shim")]
    root: PathBuf,
    /// Path of the runc binary.
    #[arg(long, default_value = "/usr/sbin/runc")]
    runtime: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = skiff_runtime_shim::Config {
        socket: args.socket,
        root: args.root,
        runtime: args.runtime,
    };
    skiff_runtime_shim::run(config, super::signals::shutdown_token()).await?;
    Ok(())
}
