//! Port forwarding for kubectl 1.31 and later, which send SPDY/3.1 frames
//! inside WebSocket binary messages (subprotocol
//! `SPDY/3.1+portforward.k8s.io`). The apiserver opens a plain SPDY
//! upgrade to the kubelet and unwraps the messages into that byte stream
//! and back, so kubelets and runtimes only ever see plain SPDY.

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{ApiError, ApiResult};

/// The WebSocket subprotocol of tunnelled port forwarding.
pub const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The port-forward protocol spoken inside the tunnel.
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";
/// Size of the buffer that copies kubelet output into messages.
const COPY_BUFFER: usize = 32 * 1024;

/// Returns whether the headers request a WebSocket tunnel of SPDY.
pub fn is_tunnel(headers: &HeaderMap) -> bool {
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| name.trim() == PROTOCOL);
    websocket && offered
}

fn unavailable(address: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "ServiceUnavailable",
        format!("failed to reach the kubelet at {address}: {error}"),
    )
}

/// Upgrades the kubelet connection to SPDY first, so a kubelet error
/// reaches the client as an HTTP error (and kubectl falls back to SPDY),
/// then accepts the client's WebSocket and splices the two.
pub async fn forward(address: &str, path_and_query: &str, request: Request) -> ApiResult<Response> {
    let (mut parts, _) = request.into_parts();
    let websocket = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?
        .protocols([PROTOCOL]);
    let kubelet = match upgrade_kubelet(address, path_and_query).await? {
        Ok(kubelet) => kubelet,
        Err(response) => return Ok(response),
    };
    let address = address.to_string();
    let path = path_and_query.to_string();
    Ok(websocket.on_upgrade(move |socket| async move {
        tracing::info!(kubelet = %address, %path, "port-forward tunnel opened");
        splice(socket, TokioIo::new(kubelet)).await;
        tracing::info!(kubelet = %address, %path, "port-forward tunnel closed");
    }))
}

/// Sends a SPDY port-forward upgrade to the kubelet. Returns the upgraded
/// connection, or the kubelet's reply when it did not switch protocols.
async fn upgrade_kubelet(
    address: &str,
    path_and_query: &str,
) -> ApiResult<Result<hyper::upgrade::Upgraded, Response>> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|error| unavailable(address, error))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| unavailable(address, error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "kubelet connection ended");
        }
    });

    let request = hyper::Request::post(path_and_query)
        .header(header::HOST, address)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header("X-Stream-Protocol-Version", PORT_FORWARD_PROTOCOL)
        .body(Body::empty())
        .map_err(|error| {
            ApiError::internal(format!("failed to build the kubelet request: {error}"))
        })?;
    let mut upstream = sender
        .send_request(request)
        .await
        .map_err(|error| unavailable(address, error))?;
    if upstream.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = upstream.status();
        let headers = upstream.headers().clone();
        let mut response = (status, Body::new(upstream.into_body())).into_response();
        *response.headers_mut() = headers;
        return Ok(Err(response));
    }
    let upgraded = hyper::upgrade::on(&mut upstream)
        .await
        .map_err(|error| unavailable(address, error))?;
    Ok(Ok(upgraded))
}

/// Copies binary message payloads to the kubelet and kubelet bytes back
/// as binary messages, until both directions have ended.
async fn splice<T>(socket: WebSocket, kubelet: T)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let (mut kubelet_reader, mut kubelet_writer) = tokio::io::split(kubelet);
    let (mut sink, mut messages) = socket.split();
    let to_kubelet = async {
        while let Some(Ok(message)) = messages.next().await {
            match message {
                Message::Binary(data) => {
                    if kubelet_writer.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Message::Close(_) => break,
                Message::Text(_) | Message::Ping(_) | Message::Pong(_) => {}
            }
        }
        let _ = kubelet_writer.shutdown().await;
    };
    let to_client = async {
        let mut buffer = vec![0u8; COPY_BUFFER];
        loop {
            match kubelet_reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    let message = Message::Binary(buffer[..read].to_vec().into());
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
            }
        }
        let normal = CloseFrame {
            code: close_code::NORMAL,
            reason: "".into(),
        };
        let _ = sink.send(Message::Close(Some(normal))).await;
    };
    tokio::join!(to_kubelet, to_client);
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tunnel_needs_websocket_and_protocol() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(!is_tunnel(&headers));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("SPDY/3.1+portforward.k8s.io"),
        );
        assert!(is_tunnel(&headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(!is_tunnel(&headers));
    }
}
