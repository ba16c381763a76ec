//! Port forwarding over SPDY/3.1 (`portforward.k8s.io`): per forwarded
//! connection the client opens an `error` and a `data` stream that share
//! a `requestID` header and name the pod port in a `port` header.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use skiff_spdy::{Connection, Stream, StreamWriter, frame::rst};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::AppState;
use super::spdy_upgrade::{self, Upgraded};
use crate::service::{PortForwardTarget, connect_in_netns};

/// The only port-forward protocol.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// How long the second stream of a pair may take, as in the kubelet.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How often unpaired streams are checked against the timeout.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);
/// Size of the buffer that copies pod output to the client.
const COPY_BUFFER: usize = 32 * 1024;

/// The streams of one forwarded connection, as far as they have arrived.
struct Pair {
    error: Option<Stream>,
    data: Option<Stream>,
    created: Instant,
}

/// Handles `POST /portforward/{token}` with `Upgrade: SPDY/3.1`.
pub(super) async fn serve(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    mut request: Request,
) -> Response {
    let accepted = match spdy_upgrade::accept(&mut request, &[PROTOCOL]) {
        Ok(accepted) => accepted,
        Err(error) => {
            tracing::debug!(%error, "SPDY upgrade rejected");
            return error.into_response();
        }
    };
    let Some(target) = state.streaming.take_port_forward(&token) else {
        return (
            StatusCode::NOT_FOUND,
            format!("unknown or expired session token {token:?}"),
        )
            .into_response();
    };
    tokio::spawn(async move {
        if let Some(io) = spdy_upgrade::upgraded(accepted.upgrade).await {
            run(io, target).await;
        }
    });
    spdy_upgrade::switching_protocols(PROTOCOL)
}

/// Pairs streams by request id and forwards each complete pair until the
/// client closes the connection.
async fn run(io: Upgraded, target: PortForwardTarget) {
    let mut connection = match Connection::server(io) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, sandbox = %target.sandbox_id, "port-forward session failed to start");
            return;
        }
    };
    tracing::debug!(sandbox = %target.sandbox_id, "port-forward session started");
    let target = Arc::new(target);
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut expiry = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        tokio::select! {
            stream = connection.accept() => match stream {
                Some(stream) => add_stream(&mut pairs, stream, &target).await,
                None => break,
            },
            _ = expiry.tick() => expire(&mut pairs).await,
        }
    }
    tracing::debug!(sandbox = %target.sandbox_id, "port-forward session ended");
}

/// Files `stream` under its request id and starts forwarding once both
/// streams of the request are there.
async fn add_stream(
    pairs: &mut HashMap<String, Pair>,
    stream: Stream,
    target: &Arc<PortForwardTarget>,
) {
    let Some(request_id) = stream.header("requestID").map(str::to_string) else {
        tracing::debug!(
            stream = stream.id,
            "port-forward stream without a requestID header; resetting it"
        );
        stream.writer.reset(rst::PROTOCOL_ERROR).await;
        return;
    };
    let pair = pairs.entry(request_id.clone()).or_insert_with(|| Pair {
        error: None,
        data: None,
        created: Instant::now(),
    });
    let slot = match stream.header("streamType") {
        Some("error") => &mut pair.error,
        Some("data") => &mut pair.data,
        other => {
            tracing::debug!(stream = stream.id, stream_type = ?other, "invalid port-forward stream type; resetting it");
            stream.writer.reset(rst::PROTOCOL_ERROR).await;
            return;
        }
    };
    if slot.is_some() {
        stream.writer.reset(rst::PROTOCOL_ERROR).await;
        return;
    }
    *slot = Some(stream);
    if pair.error.is_some()
        && pair.data.is_some()
        && let Some(Pair {
            error: Some(error),
            data: Some(data),
            ..
        }) = pairs.remove(&request_id)
    {
        tokio::spawn(forward(target.clone(), data, error));
    }
}

/// Fails requests whose second stream did not arrive in time.
async fn expire(pairs: &mut HashMap<String, Pair>) {
    let expired: Vec<String> = pairs
        .iter()
        .filter(|(_, pair)| pair.created.elapsed() > STREAM_CREATION_TIMEOUT)
        .map(|(request_id, _)| request_id.clone())
        .collect();
    for request_id in expired {
        let Some(pair) = pairs.remove(&request_id) else {
            continue;
        };
        let message = format!("timed out waiting for streams of port-forward request {request_id}");
        tracing::warn!(%request_id, "{message}");
        if let Some(error) = pair.error {
            let _ = error.writer.send(message.as_bytes()).await;
            let _ = error.writer.finish().await;
        }
        if let Some(data) = pair.data {
            data.writer.reset(rst::CANCEL).await;
        }
    }
}

/// Connects to the pod port named by the data stream and copies bytes
/// both ways; failures go to the error stream in the kubelet's wording.
async fn forward(target: Arc<PortForwardTarget>, data: Stream, error: Stream) {
    let result = match parse_port(data.header("port")) {
        Ok(port) => connect_in_netns(&target.netns, port)
            .await
            .map(|socket| (port, socket))
            .map_err(|failure| (port.to_string(), failure.to_string())),
        Err(message) => Err((data.header("port").unwrap_or("").to_string(), message)),
    };
    let (port, socket) = match result {
        Ok(connected) => connected,
        Err((port, message)) => {
            let message = format!(
                "error forwarding port {port} to pod {}, uid : {message}",
                target.sandbox_id
            );
            tracing::warn!(sandbox = %target.sandbox_id, %port, "{message}");
            let _ = error.writer.send(message.as_bytes()).await;
            let _ = error.writer.finish().await;
            let _ = data.writer.finish().await;
            return;
        }
    };
    tracing::debug!(sandbox = %target.sandbox_id, port, "forwarding a connection");
    copy(socket, data, &error.writer).await;
}

fn parse_port(header: Option<&str>) -> Result<u16, String> {
    let Some(text) = header else {
        return Err("the data stream has no port header".to_string());
    };
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "unable to parse {text:?} as a port: it must be 1-65535"
        )),
    }
}

/// Copies between the pod socket and the data stream. The error stream
/// ends as soon as the pod side closes, because kubectl waits for it
/// before it closes its local connection.
async fn copy(socket: tokio::net::TcpStream, data: Stream, error: &StreamWriter) {
    let (mut pod_reader, mut pod_writer) = socket.into_split();
    let Stream {
        reader: mut client_reader,
        writer: client_writer,
        ..
    } = data;
    let stream = client_writer.clone();
    let upstream = async {
        while let Some(chunk) = client_reader.recv().await {
            if pod_writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = pod_writer.shutdown().await;
    };
    let downstream = async {
        let mut buffer = vec![0u8; COPY_BUFFER];
        loop {
            match pod_reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if client_writer.send(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_writer.finish().await;
        let _ = error.finish().await;
    };
    // A reset or a closed connection ends both directions, even while the
    // pod keeps its side open.
    tokio::select! {
        _ = async { tokio::join!(upstream, downstream) } => {}
        () = stream.ended() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_header_is_validated() {
        assert_eq!(parse_port(Some("80")), Ok(80));
        assert!(parse_port(None).is_err());
        assert!(parse_port(Some("0")).is_err());
        let message = parse_port(Some("http")).expect_err("rejected");
        assert!(
            message.contains("unable to parse \"http\" as a port"),
            "{message}"
        );
    }
}
