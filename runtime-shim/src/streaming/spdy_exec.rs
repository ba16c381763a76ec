//! Exec and attach over SPDY/3.1, as kubectl 1.27-1.29 use them and newer
//! ones fall back to: the client opens one SPDY stream per channel, named
//! by its `streamType` header, and the session runs as it does over WebSocket.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use skiff_spdy::{Connection, Stream, StreamReader, StreamWriter, frame::rst};
use tokio::sync::mpsc;

use super::protocol::{self, Version};
use super::spdy_upgrade::{self, Upgraded};
use super::{AppState, session};
use crate::service::{Runtime, StreamRequest};

/// The SPDY remote-command protocols, in the kubelet's order of preference.
pub const PROTOCOLS: [&str; 4] = [
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];
/// How long the client may take to open its streams, as in the kubelet.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the client may keep the connection open after the session ended.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// The streams of one session by type.
#[derive(Default)]
struct Channels {
    error: Option<Stream>,
    stdin: Option<Stream>,
    stdout: Option<Stream>,
    stderr: Option<Stream>,
    resize: Option<Stream>,
}

impl Channels {
    /// Returns whether every stream `request` needs has arrived.
    fn complete(&self, request: &StreamRequest, resize: bool) -> bool {
        self.error.is_some()
            && (!request.stdin || self.stdin.is_some())
            && (!request.stdout || self.stdout.is_some())
            && (!request.stderr || self.stderr.is_some())
            && (!(request.tty && resize) || self.resize.is_some())
    }

    /// Stores `stream` in its slot; returns it back if the type is unknown or taken.
    fn insert(&mut self, stream: Stream) -> Result<(), Stream> {
        let slot = match stream.header("streamType") {
            Some("error") => &mut self.error,
            Some("stdin") => &mut self.stdin,
            Some("stdout") => &mut self.stdout,
            Some("stderr") => &mut self.stderr,
            Some("resize") => &mut self.resize,
            _ => return Err(stream),
        };
        if slot.is_some() {
            return Err(stream);
        }
        *slot = Some(stream);
        Ok(())
    }
}

/// Handles `POST /exec/{token}` and `POST /attach/{token}` with `Upgrade: SPDY/3.1`.
pub(super) async fn serve(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    mut request: Request,
) -> Response {
    let accepted = match spdy_upgrade::accept(&mut request, &PROTOCOLS) {
        Ok(accepted) => accepted,
        Err(error) => {
            tracing::debug!(%error, "SPDY upgrade rejected");
            return error.into_response();
        }
    };
    let Some(stream_request) = state.streaming.take(&token) else {
        return (
            StatusCode::NOT_FOUND,
            format!("unknown or expired session token {token:?}"),
        )
            .into_response();
    };
    let runtime = state.runtime.clone();
    let protocol = accepted.protocol;
    tokio::spawn(async move {
        if let Some(io) = spdy_upgrade::upgraded(accepted.upgrade).await {
            run(io, runtime, stream_request, protocol).await;
        }
    });
    spdy_upgrade::switching_protocols(protocol)
}

/// Runs one session on the upgraded connection.
async fn run(io: Upgraded, runtime: Arc<Runtime>, request: StreamRequest, protocol: &str) {
    let mut connection = match Connection::server(io) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, container = %request.container_id, "SPDY session failed to start");
            return;
        }
    };
    // v4 reports the exit as a metav1 Status like WebSocket v5, and the
    // session closes stdin on the v5 close frame that a stdin FIN becomes.
    // NOTE: with v1-v3 the error stream carries plain text, and a stdin FIN
    // does not reach the process, which then gets end of input only when
    // the connection closes.
    let (version, resize) = match protocol {
        "v4.channel.k8s.io" => (Version::V5, true),
        "v3.channel.k8s.io" => (Version::V1, true),
        _ => (Version::V1, false),
    };
    let channels = match collect(&mut connection, &request, resize).await {
        Ok(channels) => channels,
        Err((channels, message)) => {
            tracing::warn!(container = %request.container_id, %message, "SPDY session failed");
            report_failure(channels.error, version, &message).await;
            connection.control().close().await;
            return;
        }
    };
    run_session(connection, channels, &runtime, &request, version).await;
}

/// Sends `message` on the error stream, if the client opened one, and ends it.
async fn report_failure(error: Option<Stream>, version: Version, message: &str) {
    let Some(error) = error else {
        return;
    };
    let _ = error
        .writer
        .send(&protocol::failure(version, message))
        .await;
    let _ = error.writer.finish().await;
}

/// Runs the session over the collected streams until it ends or the client
/// disconnects, then closes the connection.
async fn run_session(
    connection: Connection,
    channels: Channels,
    runtime: &Runtime,
    request: &StreamRequest,
    version: Version,
) {
    let control = connection.control();
    let (input_sender, input) = mpsc::channel::<Result<Message, axum::Error>>(16);
    let writers = Writers::take(&channels);
    if let Some(stdin) = channels.stdin {
        tokio::spawn(pump_stdin(stdin.reader, input_sender.clone()));
    }
    if let Some(resize) = channels.resize {
        tokio::spawn(pump_resize(resize.reader, input_sender.clone()));
    }
    // Data a client sends on an output stream is discarded at once instead
    // of filling the stream's buffer, which would stall the connection.
    drop((channels.error, channels.stdout, channels.stderr));
    let session = async {
        let (frames, outgoing) = mpsc::channel::<Vec<u8>>(64);
        let input = tokio_stream::wrappers::ReceiverStream::new(input).boxed();
        let serve = async {
            session::serve(runtime, request, version, input, &frames).await;
            drop(frames);
        };
        tokio::join!(serve, writers.route(outgoing));
        writers.finish().await;
        control.close().await;
    };
    let watch = watch(connection, input_sender);
    tokio::pin!(session, watch);
    tokio::select! {
        () = &mut session => {
            let _ = tokio::time::timeout(CLOSE_GRACE, watch).await;
        }
        () = &mut watch => session.await,
    }
}

/// Waits for the streams `request` needs, for at most the stream creation timeout.
async fn collect(
    connection: &mut Connection,
    request: &StreamRequest,
    resize: bool,
) -> Result<Channels, (Channels, String)> {
    let mut channels = Channels::default();
    let deadline = tokio::time::Instant::now() + STREAM_CREATION_TIMEOUT;
    while !channels.complete(request, resize) {
        let next = tokio::time::timeout_at(deadline, connection.accept()).await;
        match next {
            Ok(Some(stream)) => {
                if let Err(stream) = channels.insert(stream) {
                    tracing::debug!(
                        stream = stream.id,
                        "unexpected SPDY stream type; resetting it"
                    );
                    stream.writer.reset(rst::PROTOCOL_ERROR).await;
                }
            }
            Ok(None) => {
                return Err((channels, "the client closed the connection".to_string()));
            }
            Err(_) => {
                return Err((
                    channels,
                    "timed out waiting for client to create streams".to_string(),
                ));
            }
        }
    }
    Ok(channels)
}

/// Resets streams opened after the session started, and ends the input
/// once the client disconnects, which ends the session.
async fn watch(
    mut connection: Connection,
    input_sender: mpsc::Sender<Result<Message, axum::Error>>,
) {
    while let Some(stream) = connection.accept().await {
        stream.writer.reset(rst::PROTOCOL_ERROR).await;
    }
    drop(input_sender);
}

/// Forwards stdin data as channel-0 messages and its FIN as the v5 close of stdin.
async fn pump_stdin(mut reader: StreamReader, input: mpsc::Sender<Result<Message, axum::Error>>) {
    while let Some(data) = reader.recv().await {
        let frame = protocol::frame(protocol::STDIN, &data);
        if input.send(Ok(Message::Binary(frame.into()))).await.is_err() {
            return;
        }
    }
    let close = vec![protocol::CLOSE, protocol::STDIN];
    let _ = input.send(Ok(Message::Binary(close.into()))).await;
}

/// Forwards each JSON terminal size of the resize stream as a channel-4 message.
async fn pump_resize(mut reader: StreamReader, input: mpsc::Sender<Result<Message, axum::Error>>) {
    let mut pending = Vec::new();
    while let Some(data) = reader.recv().await {
        pending.extend_from_slice(&data);
        let mut values =
            serde_json::Deserializer::from_slice(&pending).into_iter::<serde::de::IgnoredAny>();
        let mut consumed = 0;
        while let Some(Ok(_)) = values.next() {
            let end = values.byte_offset();
            let frame = protocol::frame(protocol::RESIZE, pending[consumed..end].trim_ascii());
            consumed = end;
            if input.send(Ok(Message::Binary(frame.into()))).await.is_err() {
                return;
            }
        }
        pending.drain(..consumed);
    }
}

/// The sending halves of the output streams.
struct Writers {
    error: Option<StreamWriter>,
    stdout: Option<StreamWriter>,
    stderr: Option<StreamWriter>,
    /// Input streams, finished at the end so the client sees every stream closed.
    inputs: Vec<StreamWriter>,
}

impl Writers {
    fn take(channels: &Channels) -> Self {
        let writer = |stream: &Option<Stream>| stream.as_ref().map(|stream| stream.writer.clone());
        Self {
            error: writer(&channels.error),
            stdout: writer(&channels.stdout),
            stderr: writer(&channels.stderr),
            inputs: [&channels.stdin, &channels.resize]
                .into_iter()
                .filter_map(writer)
                .collect(),
        }
    }

    /// Sends each output frame's payload on the stream of its channel.
    async fn route(&self, mut outgoing: mpsc::Receiver<Vec<u8>>) {
        while let Some(frame) = outgoing.recv().await {
            let Some((&channel, payload)) = frame.split_first() else {
                continue;
            };
            let writer = match channel {
                protocol::STDOUT => self.stdout.as_ref(),
                protocol::STDERR => self.stderr.as_ref(),
                protocol::ERROR => self.error.as_ref(),
                _ => None,
            };
            if let Some(writer) = writer
                && !payload.is_empty()
                && let Err(error) = writer.send(payload).await
            {
                tracing::debug!(%error, channel, "SPDY output dropped");
            }
        }
    }

    /// Ends every stream with FLAG_FIN, the error stream last.
    async fn finish(&self) {
        let streams = self.stdout.iter().chain(&self.stderr).chain(&self.inputs);
        for writer in streams.chain(&self.error) {
            let _ = writer.finish().await;
        }
    }
}
