//! The streaming server behind CRI Exec and Attach: an HTTP server on a
//! loopback port whose one-time URLs speak the Kubernetes WebSocket
//! channel protocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`,
//! `channel.k8s.io`).

mod attach;
mod protocol;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::service::{Runtime, StreamRequest};

/// How long a URL returned by Exec or Attach stays valid, as in the kubelet's
/// streaming server.
const TOKEN_TTL: Duration = Duration::from_secs(60);

/// Pending sessions by one-time token.
pub struct Streaming {
    address: SocketAddr,
    pending: Mutex<HashMap<String, (StreamRequest, Instant)>>,
}

struct AppState {
    streaming: Arc<Streaming>,
    runtime: Arc<Runtime>,
}

impl Streaming {
    /// Binds `address` and serves until `shutdown` is cancelled.
    pub async fn start(
        address: SocketAddr,
        runtime: Arc<Runtime>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let streaming = Arc::new(Self {
            address: listener.local_addr()?,
            pending: Mutex::new(HashMap::new()),
        });
        let state = Arc::new(AppState {
            streaming: streaming.clone(),
            runtime,
        });
        let router = Router::new()
            .route("/exec/{token}", get(serve_session))
            .route("/attach/{token}", get(serve_session))
            .with_state(state);
        tracing::info!(address = %streaming.address, "streaming server listening");
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "streaming server failed");
            }
        });
        Ok(streaming)
    }

    /// Registers a session and returns its URL.
    pub fn url_for(&self, request: StreamRequest) -> String {
        let token = crate::state::new_id();
        let kind = if request.attach { "attach" } else { "exec" };
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|_, (_, created)| created.elapsed() < TOKEN_TTL);
        pending.insert(token.clone(), (request, Instant::now()));
        format!("http://{}/{kind}/{token}", self.address)
    }

    fn take(&self, token: &str) -> Option<StreamRequest> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (request, created) = pending.remove(token)?;
        (created.elapsed() < TOKEN_TTL).then_some(request)
    }
}

async fn serve_session(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return (
            StatusCode::BAD_REQUEST,
            "this endpoint speaks only WebSocket (v5.channel.k8s.io, v4.channel.k8s.io); SPDY is not supported",
        )
            .into_response();
    };
    let Some(request) = state.streaming.take(&token) else {
        return (
            StatusCode::NOT_FOUND,
            format!("unknown or expired session token {token:?}"),
        )
            .into_response();
    };
    let upgrade = upgrade.protocols(protocol::SUPPORTED);
    let version = upgrade
        .selected_protocol()
        .and_then(|value| value.to_str().ok())
        .map(protocol::Version::from_name)
        .unwrap_or(protocol::Version::V1);
    let runtime = state.runtime.clone();
    upgrade.on_upgrade(move |socket| session::run(socket, runtime, request, version))
}
