//! The gRPC server: CRI services on a unix socket.

mod runtime_api;

use std::sync::Arc;

use k8s_cri::v1::runtime_service_server::RuntimeServiceServer;
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::image::ImageStore;
use crate::service::Runtime;
use crate::streaming::Streaming;
pub use runtime_api::RuntimeApi;

/// Errors that stop the shim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to prepare socket {path}: {source}")]
    Socket {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("failed to open the image store: {0}")]
    Images(#[from] crate::image::ImageError),
    #[error("failed to load runtime state: {0}")]
    State(#[from] crate::service::ServiceError),
    #[error("failed to start the streaming server on {address}: {source}")]
    Streaming {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// Serves CRI until `shutdown` is cancelled. Containers keep running after
/// the server stops; a new server on the same root finds them again.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let images = Arc::new(ImageStore::open(config.root.clone())?);
    let runtime = Arc::new(Runtime::open(config.clone(), images)?);
    let streaming = Streaming::start(config.streaming_addr, runtime.clone(), shutdown.clone())
        .await
        .map_err(|source| Error::Streaming {
            address: config.streaming_addr,
            source,
        })?;
    let listener = bind(&config.socket)?;
    tracing::info!(socket = %config.socket.display(), root = %config.root.display(), "CRI server listening");
    let api = RuntimeApi::new(runtime, streaming);
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    let served = tonic::transport::Server::builder()
        .add_service(RuntimeServiceServer::new(api))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled())
        .await;
    let _ = std::fs::remove_file(&config.socket);
    tracing::info!(socket = %config.socket.display(), "CRI server stopped");
    served.map_err(Error::from)
}

fn bind(path: &std::path::Path) -> Result<tokio::net::UnixListener, Error> {
    let socket_error = |source| Error::Socket {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(socket_error)?;
    }
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(socket_error(error));
        }
        _ => {}
    }
    tokio::net::UnixListener::bind(path).map_err(socket_error)
}
