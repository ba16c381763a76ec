//! The server side of a SPDY/3.1 connection: a reader task that decodes
//! frames and routes them to streams, and a writer task that owns the
//! header compressor so header blocks reach the wire in compression order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::sync::{Notify, mpsc};

use crate::frame::{
    FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, SETTINGS_INITIAL_WINDOW_SIZE, goaway, rst,
};
use crate::headers::{HeaderDecoder, HeaderEncoder, Headers};
use crate::stream::{Stream, StreamError};

/// The initial stream and session window of SPDY/3.1.
const DEFAULT_WINDOW: i64 = 64 * 1024;
/// Data chunks buffered per stream before the reader waits for the
/// application, which pushes back on the peer through TCP.
const STREAM_BUFFER: usize = 16;

/// Work for the writer task.
pub(crate) enum Command {
    Frame(Frame),
    Reply { stream_id: u32 },
    Shutdown,
}

#[derive(Default)]
struct StreamState {
    /// Present until the peer finishes or resets the stream.
    data: Option<mpsc::Sender<Bytes>>,
    send_window: i64,
    local_closed: bool,
}

struct State {
    streams: HashMap<u32, StreamState>,
    session_send_window: i64,
    initial_send_window: i64,
    /// Whether the peer has sent a WINDOW_UPDATE.
    peer_flow_control: bool,
    unacknowledged_session: u32,
    last_stream_id: u32,
    going_away: bool,
    closed: bool,
}

/// State shared by the reader task, the writer task and the streams.
pub(crate) struct Shared {
    state: Mutex<State>,
    window_changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes up to `wanted` bytes from the stream and session send windows.
    // NOTE: moby/spdystream, which kubectl and the kubelet use, never sends
    // WINDOW_UPDATE, so the windows are enforced only once the peer has
    // shown that it does flow control by sending one.
    pub(crate) async fn reserve_send(&self, id: u32, wanted: usize) -> Result<usize, StreamError> {
        loop {
            let notified = self.window_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return Err(StreamError::ConnectionClosed);
                }
                let enforce = state.peer_flow_control;
                let session = state.session_send_window;
                let stream = state
                    .streams
                    .get_mut(&id)
                    .filter(|stream| !stream.local_closed)
                    .ok_or(StreamError::Closed(id))?;
                if !enforce {
                    return Ok(wanted);
                }
                let available = stream.send_window.min(session);
                if available > 0 {
                    let granted = wanted.min(usize::try_from(available).unwrap_or(wanted));
                    let taken = i64::try_from(granted).unwrap_or(i64::MAX);
                    stream.send_window -= taken;
                    state.session_send_window -= taken;
                    return Ok(granted);
                }
            }
            notified.await;
        }
    }

    /// Counts `length` consumed bytes against the session window and
    /// returns the delta to announce once it reaches `threshold`.
    pub(crate) fn consume_session(&self, length: u32, threshold: u32) -> Option<u32> {
        let mut state = self.lock();
        state.unacknowledged_session = state.unacknowledged_session.saturating_add(length);
        (state.unacknowledged_session >= threshold)
            .then(|| std::mem::take(&mut state.unacknowledged_session))
    }

    /// Marks this side of stream `id` finished; returns false if it already was.
    pub(crate) fn close_local(&self, id: u32) -> bool {
        let mut state = self.lock();
        let Some(stream) = state.streams.get_mut(&id) else {
            return false;
        };
        if stream.local_closed {
            return false;
        }
        stream.local_closed = true;
        if stream.data.is_none() {
            state.streams.remove(&id);
            self.window_changed.notify_waiters();
        }
        true
    }

    /// Drops stream `id` in both directions.
    pub(crate) fn forget(&self, id: u32) {
        self.lock().streams.remove(&id);
        self.window_changed.notify_waiters();
    }

    /// Waits until stream `id` has ended in both directions, was reset or
    /// the connection closed.
    pub(crate) async fn stream_ended(&self, id: u32) {
        loop {
            let notified = self.window_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                if state.closed || !state.streams.contains_key(&id) {
                    return;
                }
            }
            notified.await;
        }
    }

    fn data_sender(&self, id: u32) -> Option<mpsc::Sender<Bytes>> {
        self.lock().streams.get(&id)?.data.clone()
    }

    /// Records the peer's FLAG_FIN on stream `id`.
    fn close_remote(&self, id: u32) {
        let mut state = self.lock();
        if let Some(stream) = state.streams.get_mut(&id) {
            stream.data = None;
            if stream.local_closed {
                state.streams.remove(&id);
                self.window_changed.notify_waiters();
            }
        }
    }

    fn close_all(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.streams.clear();
        drop(state);
        self.window_changed.notify_waiters();
    }
}

/// A SPDY/3.1 connection in the server role over an upgraded HTTP connection.
/// Dropping it stops reading from the peer and ends every stream.
pub struct Connection {
    incoming: mpsc::Receiver<Stream>,
    control: Control,
    reader: tokio::task::AbortHandle,
}

/// A handle that closes the connection.
#[derive(Clone)]
pub struct Control {
    outgoing: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl Connection {
    /// Starts the reader and writer tasks on `io`.
    pub fn server<T>(io: T) -> Result<Self, crate::Error>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let encoder = HeaderEncoder::new()?;
        let (read_half, write_half) = tokio::io::split(io);
        let (outgoing, commands) = mpsc::channel(256);
        let (streams, incoming) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                streams: HashMap::new(),
                session_send_window: DEFAULT_WINDOW,
                initial_send_window: DEFAULT_WINDOW,
                peer_flow_control: false,
                unacknowledged_session: 0,
                last_stream_id: 0,
                going_away: false,
                closed: false,
            }),
            window_changed: Notify::new(),
        });
        tokio::spawn(write_frames(write_half, commands, encoder, shared.clone()));
        let reader = Reader {
            io: read_half,
            decoder: HeaderDecoder::new(),
            outgoing: outgoing.clone(),
            streams,
            shared: shared.clone(),
        };
        let reader = tokio::spawn(reader.run()).abort_handle();
        Ok(Self {
            incoming,
            control: Control { outgoing, shared },
            reader,
        })
    }

    /// Returns the next stream the peer opens, or `None` once the
    /// connection has ended.
    pub async fn accept(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        self.control.shared.close_all();
    }
}

impl Control {
    /// Sends GOAWAY, flushes what is queued and closes the write side.
    pub async fn close(&self) {
        let last_good_stream_id = {
            let mut state = self.shared.lock();
            state.going_away = true;
            state.last_stream_id
        };
        let frame = Frame::GoAway {
            last_good_stream_id,
            status: goaway::OK,
        };
        let _ = self.outgoing.send(Command::Frame(frame)).await;
        let _ = self.outgoing.send(Command::Shutdown).await;
    }
}

async fn write_frames<W: AsyncWrite>(
    io: WriteHalf<W>,
    mut commands: mpsc::Receiver<Command>,
    mut encoder: HeaderEncoder,
    shared: Arc<Shared>,
) {
    let mut io = BufWriter::new(io);
    while let Some(command) = commands.recv().await {
        let bytes = match command {
            Command::Frame(frame) => frame.encode(),
            Command::Reply { stream_id } => match encoder.encode(&Headers::default()) {
                Ok(header_block) => Frame::SynReply {
                    stream_id,
                    flags: 0,
                    header_block: Bytes::from(header_block),
                }
                .encode(),
                Err(error) => {
                    tracing::warn!(%error, stream = stream_id, "SPDY reply not sent");
                    break;
                }
            },
            Command::Shutdown => {
                let _ = io.flush().await;
                let _ = io.shutdown().await;
                break;
            }
        };
        if io.write_all(&bytes).await.is_err() {
            break;
        }
        if commands.is_empty() && io.flush().await.is_err() {
            break;
        }
    }
    shared.close_all();
}

struct Reader<R> {
    io: ReadHalf<R>,
    decoder: HeaderDecoder,
    outgoing: mpsc::Sender<Command>,
    streams: mpsc::Sender<Stream>,
    shared: Arc<Shared>,
}

impl<R: AsyncRead> Reader<R> {
    async fn run(mut self) {
        loop {
            match Frame::read(&mut self.io).await {
                Ok(Some(frame)) => {
                    if let Err(error) = self.handle(frame).await {
                        tracing::warn!(%error, "SPDY protocol error; closing the connection");
                        let frame = Frame::GoAway {
                            last_good_stream_id: self.shared.lock().last_stream_id,
                            status: goaway::PROTOCOL_ERROR,
                        };
                        let _ = self.outgoing.send(Command::Frame(frame)).await;
                        let _ = self.outgoing.send(Command::Shutdown).await;
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "SPDY connection ended");
                    break;
                }
            }
        }
        self.shared.close_all();
    }

    async fn handle(&mut self, frame: Frame) -> Result<(), crate::Error> {
        match frame {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => self.on_data(stream_id, flags, data).await,
            Frame::SynStream {
                stream_id,
                flags,
                header_block,
                ..
            } => {
                let headers = self.decoder.decode(&header_block)?;
                self.on_syn_stream(stream_id, flags, headers).await;
            }
            Frame::SynReply { header_block, .. } | Frame::Headers { header_block, .. } => {
                // Decoded only to keep the shared zlib stream in step,
                // because this side opens no streams and needs no reply headers.
                self.decoder.decode(&header_block)?;
            }
            Frame::RstStream { stream_id, status } => {
                tracing::debug!(stream = stream_id, status, "SPDY stream reset by the peer");
                self.shared.forget(stream_id);
            }
            Frame::Settings { entries } => self.on_settings(&entries),
            // Client pings carry odd ids and get echoed. Even ids would be
            // replies to server pings, and this side sends none.
            Frame::Ping { id } if id % 2 == 1 => {
                let _ = self.outgoing.send(Command::Frame(Frame::Ping { id })).await;
            }
            Frame::Ping { .. } | Frame::Unknown { .. } => {}
            Frame::GoAway { .. } => self.shared.lock().going_away = true,
            Frame::WindowUpdate { stream_id, delta } => self.on_window_update(stream_id, delta),
        }
        Ok(())
    }

    async fn on_data(&mut self, stream_id: u32, flags: u8, data: Bytes) {
        if !data.is_empty() {
            match self.shared.data_sender(stream_id) {
                Some(sender) => {
                    // The application may have dropped its reader; the data is then discarded.
                    let _ = sender.send(data).await;
                }
                None => {
                    tracing::debug!(
                        stream = stream_id,
                        "SPDY data for an unknown or finished stream"
                    );
                }
            }
        }
        if flags & FLAG_FIN != 0 {
            self.shared.close_remote(stream_id);
        }
    }

    async fn on_syn_stream(&mut self, stream_id: u32, flags: u8, headers: Headers) {
        let refusal = {
            let mut state = self.shared.lock();
            if stream_id.is_multiple_of(2) || stream_id <= state.last_stream_id {
                Some(rst::PROTOCOL_ERROR)
            } else if state.going_away {
                Some(rst::REFUSED_STREAM)
            } else {
                state.last_stream_id = stream_id;
                None
            }
        };
        if let Some(status) = refusal {
            let frame = Frame::RstStream { stream_id, status };
            let _ = self.outgoing.send(Command::Frame(frame)).await;
            return;
        }
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        {
            let mut state = self.shared.lock();
            let send_window = state.initial_send_window;
            state.streams.insert(
                stream_id,
                StreamState {
                    data: (flags & FLAG_FIN == 0).then_some(sender),
                    send_window,
                    local_closed: flags & FLAG_UNIDIRECTIONAL != 0,
                },
            );
        }
        let _ = self.outgoing.send(Command::Reply { stream_id }).await;
        let stream = Stream::new(
            stream_id,
            headers,
            receiver,
            self.outgoing.clone(),
            self.shared.clone(),
        );
        if self.streams.send(stream).await.is_err() {
            tracing::debug!(
                stream = stream_id,
                "SPDY stream opened after the application stopped accepting"
            );
        }
    }

    fn on_settings(&self, entries: &[(u32, u32)]) {
        let Some(&(_, value)) = entries
            .iter()
            .find(|(id, _)| *id == SETTINGS_INITIAL_WINDOW_SIZE)
        else {
            return;
        };
        let mut state = self.shared.lock();
        let delta = i64::from(value) - state.initial_send_window;
        state.initial_send_window = i64::from(value);
        for stream in state.streams.values_mut() {
            stream.send_window += delta;
        }
        drop(state);
        self.shared.window_changed.notify_waiters();
    }

    fn on_window_update(&self, stream_id: u32, delta: u32) {
        let mut state = self.shared.lock();
        state.peer_flow_control = true;
        if stream_id == 0 {
            state.session_send_window += i64::from(delta);
        } else if let Some(stream) = state.streams.get_mut(&stream_id) {
            stream.send_window += i64::from(delta);
        }
        drop(state);
        self.shared.window_changed.notify_waiters();
    }
}
