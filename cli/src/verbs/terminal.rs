//! Connecting the local terminal to a remote process: raw mode, stdin and
//! stdout copying, terminal size, and the remote exit code.

use std::io::Read;
use std::os::fd::AsFd;

use futures::SinkExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachedProcess, TerminalSize};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};

/// A remote process's exit code, which the `skiff` process exits with.
#[derive(Debug, thiserror::Error)]
#[error("command terminated with exit code {0}")]
pub struct ExitCode(pub i32);

/// Puts stdin in raw mode while alive and restores it on drop.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enable() -> Option<Self> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn local_size() -> Option<TerminalSize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the pointed-to struct.
    let result = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (result == 0 && size.ws_col > 0).then_some(TerminalSize {
        width: size.ws_col,
        height: size.ws_row,
    })
}

/// Copies stdin to the process and its output to stdout and stderr until it
/// ends, then returns its exit code. With `tty` the local terminal is in raw
/// mode meanwhile, and its size follows the local one (SIGWINCH).
pub async fn run(mut process: AttachedProcess, tty: bool) -> anyhow::Result<i32> {
    let _raw = if tty { RawMode::enable() } else { None };
    if tty && let Some(sizes) = process.terminal_size() {
        tokio::spawn(forward_sizes(sizes));
    }
    let status = process.take_status();
    if let Some(remote_stdin) = process.stdin() {
        tokio::spawn(forward_stdin(remote_stdin));
    }
    let stdout = process.stdout().map(|mut remote| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut remote, &mut tokio::io::stdout()).await;
        })
    });
    let stderr = process.stderr().map(|mut remote| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut remote, &mut tokio::io::stderr()).await;
        })
    });
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    for copier in [stdout, stderr].into_iter().flatten() {
        let _ = copier.await;
    }
    Ok(exit_code(status))
}

/// Sends the local terminal size now and after every SIGWINCH.
async fn forward_sizes(mut sizes: futures::channel::mpsc::Sender<TerminalSize>) {
    if let Some(size) = local_size() {
        let _ = sizes.send(size).await;
    }
    let Ok(mut changes) = signal(SignalKind::window_change()) else {
        return;
    };
    while changes.recv().await.is_some() {
        if let Some(size) = local_size()
            && sizes.send(size).await.is_err()
        {
            return;
        }
    }
}

/// Copies local stdin to the remote one and closes it at end of file.
///
/// A plain thread does the blocking reads: a read pending in Tokio's
/// blocking pool would keep the runtime from shutting down after the remote
/// process ended, until the user pressed another key.
async fn forward_stdin(mut remote: impl AsyncWrite + Unpin) {
    let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut local = std::io::stdin().lock();
        let mut buffer = [0u8; 4096];
        loop {
            match local.read(&mut buffer) {
                Ok(0) => break,
                Ok(count) => {
                    if chunks.blocking_send(buffer[..count].to_vec()).is_err() {
                        break;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    while let Some(chunk) = received.recv().await {
        if remote.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = remote.shutdown().await;
}

/// Reads the exit code from the final Status of the exec protocol.
fn exit_code(status: Option<Status>) -> i32 {
    let Some(status) = status else {
        return 0;
    };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .iter()
        .flat_map(|details| details.causes.iter().flatten())
        .find(|cause| cause.reason.as_deref() == Some("ExitCode"))
        .and_then(|cause| cause.message.as_deref()?.parse().ok())
        .unwrap_or(1)
}
