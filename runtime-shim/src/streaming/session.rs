//! One WebSocket session: an exec'd process or an attachment to a
//! container (see [`super::attach`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::protocol::{self, Version};
use crate::service::{Runtime, StreamRequest};

/// How long output keeps draining after the process exited.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Output frames: a channel byte followed by the payload.
pub(super) type Frames = mpsc::Sender<Vec<u8>>;
/// Client messages in WebSocket form, whichever transport carried them.
pub(super) type Input =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<Message, axum::Error>> + Send>>;

pub async fn run(
    socket: WebSocket,
    runtime: Arc<Runtime>,
    request: StreamRequest,
    version: Version,
) {
    let (mut sink, input) = socket.split();
    let (frames, mut outgoing) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                break;
            }
        }
        // A close frame without a status code reads as code 1005 to kubectl,
        // which reports it as an error; 1000 is a normal closure.
        let normal = CloseFrame {
            code: axum::extract::ws::close_code::NORMAL,
            reason: "".into(),
        };
        let _ = sink.send(Message::Close(Some(normal))).await;
        let _ = sink.close().await;
    });
    // Like the Kubernetes server side, announce each open output channel
    // with an empty frame. A TTY session has no stderr, and kubectl logs an
    // error for a frame on a stream it did not open.
    let announced = [
        (protocol::STDOUT, request.stdout),
        (protocol::STDERR, request.stderr && !request.tty),
        (protocol::ERROR, true),
    ];
    for (channel, open) in announced {
        if open {
            let _ = frames.send(protocol::frame(channel, &[])).await;
        }
    }
    serve(&runtime, &request, version, input.boxed(), &frames).await;
    drop(frames);
    let _ = writer.await;
}

/// Runs the exec or attach session of `request` over any transport.
pub(super) async fn serve(
    runtime: &Runtime,
    request: &StreamRequest,
    version: Version,
    input: Input,
    frames: &Frames,
) {
    if request.attach {
        super::attach::run(runtime, request, version, input, frames).await;
    } else {
        exec(runtime, request, version, input, frames).await;
    }
}

async fn exec(
    runtime: &Runtime,
    request: &StreamRequest,
    version: Version,
    mut input: Input,
    frames: &Frames,
) {
    let mut process = match runtime.spawn_exec(request) {
        Ok(process) => process,
        Err(error) => {
            tracing::warn!(container = %request.container_id, %error, "exec failed to start");
            let _ = frames
                .send(protocol::frame(
                    protocol::ERROR,
                    &protocol::failure(version, &error.to_string()),
                ))
                .await;
            return;
        }
    };
    let pumps: Vec<_> = [
        (process.stdout.take(), protocol::STDOUT),
        (process.stderr.take(), protocol::STDERR),
    ]
    .into_iter()
    .filter_map(|(reader, channel)| {
        reader.map(|reader| tokio::spawn(pump(reader, channel, frames.clone())))
    })
    .collect();
    let mut stdin = process.stdin.take();
    let pty = process.pty.take();
    let mut input_open = true;
    let exit_code = loop {
        tokio::select! {
            code = process.wait() => break code,
            message = input.next(), if input_open => match message {
                Some(Ok(Message::Binary(data))) => handle_input(&data, &mut stdin, pty.as_ref(), version).await,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    // The client left: closing stdin ends most commands,
                    // and killing runc ends the rest.
                    input_open = false;
                    stdin = None;
                    let _ = process.child.start_kill();
                }
                Some(Ok(_)) => {}
            },
        }
    };
    drop(stdin);
    for pump in pumps {
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, pump).await;
    }
    drop(pty);
    if let Some(payload) = protocol::exit_status(version, &request.cmd, exit_code) {
        let _ = frames
            .send(protocol::frame(protocol::ERROR, &payload))
            .await;
    }
}

async fn handle_input(
    data: &[u8],
    stdin: &mut Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    pty: Option<&OwnedFd>,
    version: Version,
) {
    let Some((&channel, payload)) = data.split_first() else {
        return;
    };
    match channel {
        protocol::STDIN => {
            if let Some(writer) = stdin.as_mut()
                && (writer.write_all(payload).await.is_err() || writer.flush().await.is_err())
            {
                *stdin = None;
            }
        }
        protocol::RESIZE => {
            if let (Some(pty), Ok(size)) = (
                pty,
                serde_json::from_slice::<protocol::TerminalSize>(payload),
            ) {
                resize(pty, size.width, size.height);
            }
        }
        protocol::CLOSE if version == Version::V5 && payload.first() == Some(&protocol::STDIN) => {
            if let Some(mut writer) = stdin.take() {
                let _ = writer.shutdown().await;
            }
        }
        _ => {}
    }
}

/// Sets the terminal size; the kernel signals runc, which resizes the
/// container's terminal to match.
fn resize(pty: &OwnedFd, width: u16, height: u16) {
    let size = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct from the pointer.
    unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &size) };
}

async fn pump(
    mut reader: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    channel: u8,
    frames: Frames,
) {
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if frames
                    .send(protocol::frame(channel, &buffer[..read]))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
}
