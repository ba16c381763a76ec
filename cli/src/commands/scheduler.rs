//! `skiff scheduler`: the scheduler alone.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the apiserver to use; defaults to $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::client::from_kubeconfig(args.kubeconfig.as_deref()).await?;
    let config = skiff_scheduler::Config::default();
    skiff_scheduler::run(client, config, super::signals::shutdown_token()).await?;
    Ok(())
}
