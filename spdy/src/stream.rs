//! One SPDY stream as the application uses it: the peer's headers, a
//! reader of its data and a writer that respects the peer's send window.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::connection::{Command, Shared};
use crate::frame::{FLAG_FIN, Frame};
use crate::headers::Headers;

/// Bytes received on a stream before a WINDOW_UPDATE returns them to the
/// peer: half of the default 64 KiB window, so the peer never stalls.
const WINDOW_UPDATE_THRESHOLD: u32 = 32 * 1024;
/// The largest data frame this side sends.
const MAX_DATA_FRAME: usize = 32 * 1024;

/// Errors sending on a stream.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("SPDY stream {0} was reset or closed")]
    Closed(u32),
    #[error("the SPDY connection is closed")]
    ConnectionClosed,
}

/// A stream the peer opened with SYN_STREAM.
pub struct Stream {
    pub id: u32,
    pub headers: Headers,
    pub reader: StreamReader,
    pub writer: StreamWriter,
}

/// The receiving half of a stream.
pub struct StreamReader {
    id: u32,
    data: mpsc::Receiver<Bytes>,
    unacknowledged: u32,
    outgoing: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

/// The sending half of a stream; clones send on the same stream.
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    outgoing: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl Stream {
    pub(crate) fn new(
        id: u32,
        headers: Headers,
        data: mpsc::Receiver<Bytes>,
        outgoing: mpsc::Sender<Command>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            id,
            headers,
            reader: StreamReader {
                id,
                data,
                unacknowledged: 0,
                outgoing: outgoing.clone(),
                shared: shared.clone(),
            },
            writer: StreamWriter {
                id,
                outgoing,
                shared,
            },
        }
    }

    /// Returns the first value of header `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

impl StreamReader {
    /// Returns the next chunk of data, or `None` once the peer finished
    /// or reset the stream or the connection closed.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let data = self.data.recv().await?;
        self.acknowledge(data.len()).await;
        Some(data)
    }

    /// Returns consumed bytes to the peer's stream and session windows.
    async fn acknowledge(&mut self, length: usize) {
        let length = u32::try_from(length).unwrap_or(u32::MAX);
        self.unacknowledged = self.unacknowledged.saturating_add(length);
        if self.unacknowledged >= WINDOW_UPDATE_THRESHOLD {
            let delta = std::mem::take(&mut self.unacknowledged);
            self.send_window_update(self.id, delta).await;
        }
        if let Some(delta) = self.shared.consume_session(length, WINDOW_UPDATE_THRESHOLD) {
            self.send_window_update(0, delta).await;
        }
    }

    async fn send_window_update(&self, stream_id: u32, delta: u32) {
        let frame = Frame::WindowUpdate { stream_id, delta };
        let _ = self.outgoing.send(Command::Frame(frame)).await;
    }
}

impl StreamWriter {
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Sends `data` in frames that fit the peer's windows, waiting for
    /// WINDOW_UPDATE when they are spent.
    pub async fn send(&self, mut data: &[u8]) -> Result<(), StreamError> {
        while !data.is_empty() {
            let wanted = data.len().min(MAX_DATA_FRAME);
            let granted = self.shared.reserve_send(self.id, wanted).await?;
            let (chunk, rest) = data.split_at(granted);
            let frame = Frame::Data {
                stream_id: self.id,
                flags: 0,
                data: Bytes::copy_from_slice(chunk),
            };
            self.outgoing
                .send(Command::Frame(frame))
                .await
                .map_err(|_| StreamError::ConnectionClosed)?;
            data = rest;
        }
        Ok(())
    }

    /// Ends this side of the stream with an empty data frame carrying FLAG_FIN.
    pub async fn finish(&self) -> Result<(), StreamError> {
        if !self.shared.close_local(self.id) {
            return Ok(());
        }
        let frame = Frame::Data {
            stream_id: self.id,
            flags: FLAG_FIN,
            data: Bytes::new(),
        };
        self.outgoing
            .send(Command::Frame(frame))
            .await
            .map_err(|_| StreamError::ConnectionClosed)
    }

    /// Waits until the stream has ended in both directions, was reset or
    /// the connection closed.
    pub async fn ended(&self) {
        self.shared.stream_ended(self.id).await;
    }

    /// Aborts the stream in both directions with RST_STREAM `status`.
    pub async fn reset(&self, status: u32) {
        self.shared.forget(self.id);
        let frame = Frame::RstStream {
            stream_id: self.id,
            status,
        };
        let _ = self.outgoing.send(Command::Frame(frame)).await;
    }
}
