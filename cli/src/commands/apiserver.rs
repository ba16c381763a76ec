//! `skiff apiserver`: the API server alone.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the embedded database.
    #[arg(long, default_value = "/var/lib/skiff")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// TCP port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 6443)]
    port: u16,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = skiff_apiserver::Config {
        data_dir: args.data_dir,
        bind_address: args.bind_address,
        port: args.port,
    };
    let server = skiff_apiserver::Server::bind(config)
        .await
        .context("failed to start the apiserver")?;
    tracing::info!(address = %server.local_addr(), "apiserver listening");
    server.serve(super::signals::shutdown_token()).await?;
    Ok(())
}
