//! The monitor's attach socket (`attach.sock` in the container's state
//! directory). Each connection is one attached client: it receives the
//! container's output written from then on as [`frame`] frames and sends
//! stdin, resize and end-of-stdin frames. When the container has exited and
//! its exit is recorded, the monitor closes every connection.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::frame::{self, ATTACH_SOCKET};
use super::stdio::{ContainerInput, socket_path};

/// How long one output write to a client may block before that client is
/// dropped, so a client that stops reading cannot stall the container's log.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Attached clients and the container input they write to.
pub struct AttachServer {
    clients: Mutex<Vec<(u64, UnixStream)>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    input: Arc<ContainerInput>,
    path: PathBuf,
}

impl AttachServer {
    /// Binds the attach socket in `state_dir` and accepts clients on a thread.
    pub fn start(state_dir: &Path, input: Arc<ContainerInput>) -> std::io::Result<Arc<Self>> {
        let (_dir_handle, address) = socket_path(state_dir, ATTACH_SOCKET)?;
        let _ = std::fs::remove_file(&address);
        let listener = UnixListener::bind(&address)?;
        let server = Arc::new(Self {
            clients: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            input,
            path: state_dir.join(ATTACH_SOCKET),
        });
        let accepting = server.clone();
        std::thread::spawn(move || accepting.accept_clients(listener));
        Ok(server)
    }

    fn clients(&self) -> MutexGuard<'_, Vec<(u64, UnixStream)>> {
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn accept_clients(self: Arc<Self>, listener: UnixListener) {
        for connection in listener.incoming() {
            let connection = match connection {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(%error, "failed to accept an attach connection");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            if self.closed.load(Ordering::SeqCst) {
                let _ = connection.shutdown(Shutdown::Both);
                continue;
            }
            let _ = connection.set_write_timeout(Some(WRITE_TIMEOUT));
            let Ok(writer) = connection.try_clone() else {
                continue;
            };
            let id = self.next_id.fetch_add(1, Ordering::SeqCst);
            self.clients().push((id, writer));
            tracing::info!(client = id, "client attached");
            let server = self.clone();
            std::thread::spawn(move || server.serve_client(id, connection));
        }
    }

    /// Applies the client's frames to the container until it disconnects.
    fn serve_client(&self, id: u64, mut connection: UnixStream) {
        loop {
            match frame::read_frame(&mut connection) {
                Ok(Some((frame::STDIN, data))) => self.input.write(&data),
                Ok(Some((frame::RESIZE, payload))) => {
                    if let Some((width, height)) = frame::decode_resize(&payload) {
                        self.input.resize(width, height);
                    }
                }
                Ok(Some((frame::STDIN_END, _))) => self.input.client_stdin_ended(),
                Ok(Some((channel, _))) => {
                    tracing::debug!(
                        client = id,
                        channel,
                        "ignored a frame on an unknown channel"
                    );
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(client = id, %error, "attach connection failed");
                    break;
                }
            }
        }
        self.clients().retain(|(client, _)| *client != id);
        tracing::info!(client = id, "client detached");
    }

    /// Sends output to every attached client, dropping those that fail.
    pub fn broadcast(&self, channel: u8, data: &[u8]) {
        let encoded = frame::encode(channel, data);
        self.clients().retain_mut(|(id, stream)| {
            if stream.write_all(&encoded).is_ok() {
                return true;
            }
            tracing::warn!(
                client = *id,
                "dropped an attached client that stopped reading"
            );
            let _ = stream.shutdown(Shutdown::Both);
            false
        });
    }

    /// Closes every connection and removes the socket, so clients see end
    /// of stream once the container's exit is recorded.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.path);
        for (_, stream) in self.clients().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
