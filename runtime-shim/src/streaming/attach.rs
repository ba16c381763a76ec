//! An Attach session: the client's channels joined to the container's
//! stdio through its monitor's attach socket. Output flows from the moment
//! of attaching until the container exits. Then the session reports
//! Success on the error channel whatever the exit code, as the kubelet's
//! streaming server does, so clients read the code from the container status.

use std::time::{Duration, Instant};

use axum::extract::ws::Message;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::protocol::{self, Version};
use super::session::{Frames, Input};
use crate::monitor::frame;
use crate::service::{Runtime, StreamRequest};

/// How long the session waits for the exit record after the monitor
/// closed the connection.
const EXIT_WAIT: Duration = Duration::from_secs(10);
const EXIT_POLL: Duration = Duration::from_millis(50);

/// Forwarding state of the client's stdin.
struct StdinForward {
    /// Whether the client's stdin reaches the container.
    enabled: bool,
    /// Whether the end of this client's stdin was sent to the monitor.
    ended: bool,
}

/// Joins the client's channels to the container's stdio until the
/// container exits or the client leaves.
pub(super) async fn run(
    runtime: &Runtime,
    request: &StreamRequest,
    version: Version,
    mut input: Input,
    frames: &Frames,
) {
    let connection = match runtime.connect_attach(&request.container_id).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(container = %request.container_id, %error, "attach failed");
            let payload = protocol::failure(version, &error.to_string());
            let _ = frames
                .send(protocol::frame(protocol::ERROR, &payload))
                .await;
            return;
        }
    };
    tracing::info!(container = %request.container_id, stdin = request.stdin, tty = connection.tty, "attached");
    let (reader, mut writer) = connection.stream.into_split();
    let stderr = request.stderr && !connection.tty;
    let mut output = tokio::spawn(forward_output(
        reader,
        request.stdout,
        stderr,
        frames.clone(),
    ));
    let mut stdin = StdinForward {
        enabled: request.stdin && connection.stdin,
        ended: false,
    };
    let exited = loop {
        tokio::select! {
            _ = &mut output => break true,
            message = input.next() => match message {
                Some(Ok(Message::Binary(data))) => {
                    forward_input(&data, &mut writer, &mut stdin, version).await;
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break false,
                Some(Ok(_)) => {}
            },
        }
    };
    if !exited {
        end_stdin(&mut writer, &mut stdin).await;
        output.abort();
        tracing::info!(container = %request.container_id, "client detached");
        return;
    }
    let payload = match wait_exited(runtime, &request.container_id).await {
        Ok(()) => protocol::exit_status(version, &[], 0),
        Err(message) => Some(protocol::failure(version, &message)),
    };
    if let Some(payload) = payload {
        let _ = frames
            .send(protocol::frame(protocol::ERROR, &payload))
            .await;
    }
}

/// Sends one client frame on to the monitor.
async fn forward_input(
    data: &[u8],
    writer: &mut OwnedWriteHalf,
    stdin: &mut StdinForward,
    version: Version,
) {
    let Some((&channel, payload)) = data.split_first() else {
        return;
    };
    let encoded = match channel {
        protocol::STDIN if stdin.enabled && !stdin.ended => frame::encode(frame::STDIN, payload),
        protocol::RESIZE => match serde_json::from_slice::<protocol::TerminalSize>(payload) {
            Ok(size) => frame::encode_resize(size.width, size.height),
            Err(error) => {
                tracing::debug!(%error, "ignored an invalid resize message");
                return;
            }
        },
        protocol::CLOSE if version == Version::V5 && payload.first() == Some(&protocol::STDIN) => {
            end_stdin(writer, stdin).await;
            return;
        }
        _ => return,
    };
    let _ = writer.write_all(&encoded).await;
}

/// Tells the monitor, once, that this client's stdin ended.
async fn end_stdin(writer: &mut OwnedWriteHalf, stdin: &mut StdinForward) {
    if stdin.enabled && !stdin.ended {
        stdin.ended = true;
        let _ = writer
            .write_all(&frame::encode(frame::STDIN_END, &[]))
            .await;
    }
}

/// Copies the monitor's output frames to the client's channels until the
/// monitor closes the connection.
async fn forward_output(mut reader: OwnedReadHalf, stdout: bool, stderr: bool, frames: Frames) {
    loop {
        let mut header = [0u8; 5];
        if reader.read_exact(&mut header).await.is_err() {
            return;
        }
        let Ok((channel, length)) = frame::decode_header(header) else {
            return;
        };
        let mut payload = vec![0u8; length];
        if reader.read_exact(&mut payload).await.is_err() {
            return;
        }
        let target = match channel {
            frame::STDOUT if stdout => protocol::STDOUT,
            frame::STDERR if stderr => protocol::STDERR,
            _ => continue,
        };
        if frames
            .send(protocol::frame(target, &payload))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Waits until the container's exit is recorded, so that its status shows
/// the exit code by the time the client sees the session end.
async fn wait_exited(runtime: &Runtime, id: &str) -> Result<(), String> {
    let running = k8s_cri::v1::ContainerState::ContainerRunning as i32;
    let deadline = Instant::now() + EXIT_WAIT;
    loop {
        match runtime.container_status(id) {
            Ok(status) if status.state != running => return Ok(()),
            Ok(_) if Instant::now() < deadline => tokio::time::sleep(EXIT_POLL).await,
            Ok(_) => {
                tracing::warn!(container = %id, "the monitor closed the attach connection, but the container still runs");
                return Err(format!(
                    "the monitor of container {id} closed the attach connection while the container still runs"
                ));
            }
            Err(error) => {
                tracing::warn!(container = %id, %error, "failed to read the container status after attach");
                return Err(format!(
                    "failed to read the status of container {id}: {error}"
                ));
            }
        }
    }
}
