//! The node agent: registers the node and runs the pods bound to it through CRI.

pub mod config;
pub mod context;
pub mod cri;
pub mod node;
pub mod pods;
pub mod server;
pub mod volumes;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use config::Config;
use context::Context;

/// How long shutdown waits for each of the kubelet's loops before aborting it.
/// The pod manager waits up to 10 seconds for its workers within this.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Errors that stop the kubelet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cri(#[from] cri::CriError),
    #[error(transparent)]
    Node(#[from] node::NodeError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the root directory {path}: {source}")]
    RootDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs until `shutdown` is cancelled. Pods keep running when the kubelet
/// stops; the next start adopts them.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    std::fs::create_dir_all(&config.root_dir).map_err(|source| Error::RootDir {
        path: config.root_dir.clone(),
        source,
    })?;
    let runtime =
        cri::Runtime::connect_with_retry(&config.cri_socket, Duration::from_secs(60)).await?;
    let bind = std::net::SocketAddr::new(config.address, config.port);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| Error::Listen {
            address: bind,
            source,
        })?;
    let port = listener
        .local_addr()
        .map_err(|source| Error::Listen {
            address: bind,
            source,
        })?
        .port();
    let version = runtime
        .runtime
        .clone()
        .version(k8s_cri::v1::VersionRequest {
            version: String::new(),
        })
        .await
        .map_err(cri::CriError::call("Version"))?
        .into_inner();
    let ctx = Arc::new(Context::new(
        client,
        runtime,
        config,
        port,
        version.runtime_name,
    ));
    tracing::info!(node = %ctx.config.node_name, host_ip = %ctx.host_ip, port, "kubelet starting");
    node::register::register(&ctx).await?;

    let tasks = vec![
        tokio::spawn(node::lease::run(ctx.clone(), shutdown.clone())),
        tokio::spawn(node::status::run(ctx.clone(), shutdown.clone())),
        tokio::spawn(server::serve(ctx.clone(), listener, shutdown.clone())),
        tokio::spawn(pods::manager::run(ctx.clone(), shutdown.clone())),
    ];
    shutdown.cancelled().await;
    for mut task in tasks {
        if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
            task.abort();
        }
    }
    tracing::info!(node = %ctx.config.node_name, "kubelet stopped");
    Ok(())
}
