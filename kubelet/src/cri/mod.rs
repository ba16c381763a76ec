//! The CRI gRPC client: the only way the kubelet touches containers.

pub mod labels;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// Largest gRPC message accepted from the runtime (container lists can be big).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Errors talking to the CRI runtime.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("cannot connect to the CRI runtime at {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("CRI call {call} failed: {status}")]
    Call {
        call: &'static str,
        #[source]
        status: tonic::Status,
    },
}

impl CriError {
    /// Wraps a gRPC failure of `call`.
    pub fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> CriError {
        move |status| CriError::Call { call, status }
    }

    /// True when the runtime answered NotFound.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::Call { status, .. } if status.code() == tonic::Code::NotFound)
    }

    /// The runtime's own message, without the gRPC decoration.
    pub fn message(&self) -> String {
        match self {
            CriError::Call { status, .. } => status.message().to_string(),
            other => other.to_string(),
        }
    }
}

/// Clients of the runtime and image services sharing one connection.
#[derive(Clone)]
pub struct Runtime {
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

impl Runtime {
    /// Connects to the CRI runtime listening on the unix socket `path`.
    pub async fn connect(path: &Path) -> Result<Runtime, CriError> {
        let socket = path.to_path_buf();
        let endpoint = Endpoint::from_static("http://[::]:50051")
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600));
        let channel = endpoint
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(socket).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|source| CriError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Runtime {
            runtime: RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            images: ImageServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE),
        })
    }

    /// Connects, retrying for up to `wait` while the runtime starts.
    pub async fn connect_with_retry(path: &Path, wait: Duration) -> Result<Runtime, CriError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match Runtime::connect(path).await {
                Ok(runtime) => return Ok(runtime),
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::info!(%error, "waiting for the CRI runtime");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}
