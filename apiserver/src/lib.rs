//! The Kubernetes REST API served over axum, backed by a `skiff_store::Store`.

mod admission;
mod body;
mod bootstrap;
mod convert;
mod discovery;
mod error;
mod filter;
mod handlers;
mod metrics;
mod object;
mod output;
mod params;
mod protobuf;
mod proxy;
mod registry;
mod route;
mod semantics;
mod state;
mod storage;
mod system;
mod watch;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};
use skiff_store::Store;
use skiff_store::sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use proxy::KUBELET_ADDRESS_ANNOTATION;

use state::AppState;

/// How often old revisions are compacted away; watches can resume from any
/// revision up to this old.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// Settings of one apiserver instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory holding the embedded database.
    pub data_dir: PathBuf,
    pub bind_address: IpAddr,
    /// TCP port; 0 picks a free one.
    pub port: u16,
}

/// Errors that stop the apiserver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("failed to open the store in {path}: {source}")]
    Store {
        path: PathBuf,
        source: skiff_store::StoreError,
    },
    #[error("failed to create the built-in objects: {0}")]
    Bootstrap(String),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// An apiserver bound to its address but not yet serving.
pub struct Server {
    local_addr: SocketAddr,
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: CancellationToken,
}

impl Server {
    /// Opens the SQLite store in the data directory and binds the listener.
    pub async fn bind(config: Config) -> Result<Self, Error> {
        let path = config.data_dir.join("skiff.db");
        let store = SqliteStore::open(&path).map_err(|source| Error::Store {
            path: path.clone(),
            source,
        })?;
        Self::bind_with_store(config, Arc::new(store)).await
    }

    /// Binds the listener and serves from `store`.
    pub async fn bind_with_store(config: Config, store: Arc<dyn Store>) -> Result<Self, Error> {
        let address = SocketAddr::new(config.bind_address, config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| Error::Listen { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Error::Listen { address, source })?;
        let shutdown = CancellationToken::new();
        let state = AppState::start(Arc::clone(&store), shutdown.clone())
            .await
            .map_err(|source| Error::Store {
                path: config.data_dir.clone(),
                source,
            })?;
        bootstrap::ensure(&state)
            .await
            .map_err(|error| Error::Bootstrap(error.message))?;
        skiff_store::compactor::spawn(store, COMPACTION_INTERVAL, shutdown.clone());
        Ok(Self {
            local_addr,
            listener,
            state,
            shutdown,
        })
    }

    /// Returns the address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves requests until `shutdown` is cancelled.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), Error> {
        let router = router(Arc::clone(&self.state));
        let internal = self.shutdown.clone();
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                shutdown.cancelled().await;
                internal.cancel();
            })
            .await
            .map_err(Error::Serve);
        self.shutdown.cancel();
        result
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/version", get(system::version))
        .route("/healthz", get(system::health))
        .route("/livez", get(system::health))
        .route("/readyz", get(system::health))
        .route("/metrics", get(system::metrics))
        .route("/openapi/v2", get(system::openapi_v2))
        .route("/openapi/v3", get(system::openapi_v3_index))
        .route("/openapi/v3/{*path}", get(system::openapi_v3_document))
        .route("/api", any(handlers::api))
        .route("/api/{*rest}", any(handlers::api))
        .route("/apis", any(handlers::api))
        .route("/apis/{*rest}", any(handlers::api))
        .fallback(system::not_found)
        .with_state(state)
}
