//! The streaming server behind CRI Exec, Attach and PortForward: an HTTP
//! server on a loopback port whose one-time URLs speak the Kubernetes
//! WebSocket channel protocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`,
//! `channel.k8s.io`) and, on POST, SPDY/3.1 (`v4.channel.k8s.io` to
//! `channel.k8s.io`, and `portforward.k8s.io`).

mod attach;
mod port_forward;
mod protocol;
mod session;
mod spdy_exec;
mod spdy_upgrade;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::service::{PortForwardTarget, Runtime, StreamRequest};

/// How long a URL returned by Exec or Attach stays valid, as in the kubelet's
/// streaming server.
const TOKEN_TTL: Duration = Duration::from_secs(60);

/// Pending sessions by one-time token.
pub struct Streaming {
    address: SocketAddr,
    pending: Mutex<HashMap<String, (StreamRequest, Instant)>>,
    pending_port_forwards: Mutex<HashMap<String, (PortForwardTarget, Instant)>>,
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
            pending_port_forwards: Mutex::new(HashMap::new()),
        });
        let state = Arc::new(AppState {
            streaming: streaming.clone(),
            runtime,
        });
        let router = Router::new()
            .route("/exec/{token}", get(serve_session).post(spdy_exec::serve))
            .route("/attach/{token}", get(serve_session).post(spdy_exec::serve))
            .route("/portforward/{token}", post(port_forward::serve))
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

    /// Registers a port-forward session and returns its URL.
    pub fn port_forward_url(&self, target: PortForwardTarget) -> String {
        let token = crate::state::new_id();
        let mut pending = self
            .pending_port_forwards
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|_, (_, created)| created.elapsed() < TOKEN_TTL);
        pending.insert(token.clone(), (target, Instant::now()));
        format!("http://{}/portforward/{token}", self.address)
    }

    fn take_port_forward(&self, token: &str) -> Option<PortForwardTarget> {
        let mut pending = self
            .pending_port_forwards
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (target, created) = pending.remove(token)?;
        (created.elapsed() < TOKEN_TTL).then_some(target)
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
            "this endpoint speaks WebSocket (v5.channel.k8s.io, v4.channel.k8s.io) on GET and SPDY/3.1 on POST",
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
