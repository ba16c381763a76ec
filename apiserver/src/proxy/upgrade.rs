//! Forwarding of HTTP upgrade requests (WebSocket and SPDY) to a kubelet and
//! splicing of the upgraded connections.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::{ApiError, ApiResult};

fn unavailable(address: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "ServiceUnavailable",
        format!("failed to reach the kubelet at {address}: {error}"),
    )
}

/// Sends the request's method, headers and query to the kubelet; on 101
/// Switching Protocols both connections are spliced until either side closes.
pub async fn forward(
    address: &str,
    path_and_query: &str,
    mut request: Request,
) -> ApiResult<Response> {
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
    let mut upstream_request = hyper::Request::builder()
        .method(request.method().clone())
        .uri(path_and_query);
    for (name, value) in request.headers() {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            upstream_request = upstream_request.header(name, value);
        }
    }
    let upstream_request = upstream_request
        .header(header::HOST, address)
        .body(Body::empty())
        .map_err(|error| {
            ApiError::internal(format!("failed to build the kubelet request: {error}"))
        })?;
    let mut upstream = sender
        .send_request(upstream_request)
        .await
        .map_err(|error| unavailable(address, error))?;
    if upstream.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = upstream.status();
        let headers = upstream.headers().clone();
        let mut response = (status, Body::new(upstream.into_body())).into_response();
        *response.headers_mut() = headers;
        return Ok(response);
    }
    let client_upgrade = hyper::upgrade::on(&mut request);
    let kubelet_upgrade = hyper::upgrade::on(&mut upstream);
    let address = address.to_string();
    tokio::spawn(async move {
        let (client, kubelet) = match tokio::join!(client_upgrade, kubelet_upgrade) {
            (Ok(client), Ok(kubelet)) => (client, kubelet),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%address, %error, "upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut kubelet = TokioIo::new(kubelet);
        if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await {
            tracing::debug!(%address, %error, "upgraded stream ended");
        }
    });
    let mut response = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in upstream.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::empty())
        .map_err(|error| ApiError::internal(format!("failed to build the upgrade reply: {error}")))
}
