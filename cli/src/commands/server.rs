//! `skiff server`: the control plane and, unless disabled, a local node, in
//! one process, like `k3s server`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::components::{self, Components, NodeOptions, Tier};

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the database, the kubeconfig and the local node's state.
    #[arg(long, default_value = "/var/lib/skiff")]
    data_dir: PathBuf,
    /// Address the apiserver listens on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// Port the apiserver listens on.
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// Run only the control plane, with no local node.
    #[arg(long)]
    disable_agent: bool,
    #[command(flatten)]
    node: NodeOptions,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = super::signals::shutdown_token();
    let config = skiff_apiserver::Config {
        data_dir: args.data_dir.join("db"),
        bind_address: args.bind_address,
        port: args.port,
    };
    let server = skiff_apiserver::Server::bind(config)
        .await
        .context("failed to start the apiserver")?;
    let address = server.local_addr();
    let url = format!("http://{address}");
    let kubeconfig = args.data_dir.join("kubeconfig");
    crate::kubeconfig::write(&kubeconfig, &url)?;

    let mut components = Components::new(shutdown.clone());
    components.spawn(Tier::Apiserver, "apiserver", |stop| async move {
        server.serve(stop).await.map_err(anyhow::Error::from)
    });
    tracing::info!(address = %address, "apiserver listening");
    if let Err(error) = wait_until_ready(&url, &shutdown).await {
        shutdown.cancel();
        let _ = components.wait().await;
        return Err(error);
    }

    let client = crate::client::from_kubeconfig(Some(&kubeconfig)).await?;
    components::spawn_control_plane(&mut components, client.clone());
    if !args.disable_agent {
        components::spawn_node(&mut components, client, &args.data_dir, &args.node)?;
    }
    println!("skiff server is running: API at {url}");
    println!("export KUBECONFIG={}", kubeconfig.display());

    components.wait().await
}

/// Polls `/readyz` until the apiserver responds, for at most 30 seconds.
async fn wait_until_ready(url: &str, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let authority = url.trim_start_matches("http://").to_string();
    for _ in 0..300 {
        if shutdown.is_cancelled() {
            anyhow::bail!("shut down before the apiserver was ready");
        }
        if probe_ready(&authority).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the apiserver at {url} was not ready within 30 seconds")
}

/// Sends `GET /readyz` over a plain TCP connection and checks for a 200.
async fn probe_ready(authority: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(authority).await else {
        return false;
    };
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut response));
    matches!(read.await, Ok(Ok(_))) && response.starts_with(b"HTTP/1.1 200")
}

/// Returns the node name to register: the flag, else the host name.
pub fn default_node_name(flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(name) = flag {
        return Ok(name.to_string());
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("failed to read the host name; pass --node-name")?;
    Ok(hostname.trim().to_lowercase())
}

/// Returns the path of the runtime's socket under the data directory.
pub fn shim_socket(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("shim.sock")
}
