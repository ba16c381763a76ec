//! The embedded SQLite backend: one database file in WAL mode, a single writer
//! thread that batches concurrent writes into one transaction, and a pool of
//! read connections.

mod read;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc};

use crate::{
    Event, KeyValue, RangeOptions, RangeResult, Result, Revision, Store, StoreError, WatchStream,
};
use writer::{Write, Writer};

/// Events kept for slow watchers before they re-read the log from disk.
const EVENT_BUFFER: usize = 8192;

/// Events a single watch stream buffers for its consumer.
const WATCH_BUFFER: usize = 1024;

/// A [`Store`] in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
    events: broadcast::Sender<Event>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl SqliteStore {
    /// Opens the database at `path`, creating it and its tables if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Backend(format!("failed to create {}: {error}", parent.display()))
            })?;
        }
        let connection = Connection::open(&path).map_err(backend)?;
        schema::configure(&connection).map_err(backend)?;
        connection
            .execute_batch(schema::CREATE_TABLES)
            .map_err(backend)?;
        let revision = schema::read_meta(&connection, "revision").map_err(backend)?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let writer = Writer::spawn(connection, revision, events.clone()).map_err(backend)?;
        tracing::info!(path = %path.display(), revision, "opened sqlite store");
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                readers: Mutex::new(Vec::new()),
                writer,
                events,
            }),
        })
    }

    /// Runs `query` on a pooled read connection in a blocking thread.
    async fn read<T, F>(&self, query: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .map_err(|_| backend("the reader pool lock is poisoned"))?
                .pop();
            let mut connection = match pooled {
                Some(connection) => connection,
                None => {
                    let connection = Connection::open(&inner.path).map_err(backend)?;
                    schema::configure(&connection).map_err(backend)?;
                    connection
                }
            };
            let result = query(&mut connection);
            if let Ok(mut readers) = inner.readers.lock() {
                readers.push(connection);
            }
            result
        })
        .await
        .map_err(backend)?
    }

    async fn write(&self, write: Write) -> Result<Option<KeyValue>> {
        self.inner.writer.submit(write).await
    }
}

fn written(result: Option<KeyValue>) -> Result<KeyValue> {
    result.ok_or_else(|| backend("the writer returned no value for a write"))
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_string();
        self.read(move |connection| read::get(connection, &key))
            .await
    }

    async fn range(&self, prefix: &str, options: RangeOptions) -> Result<RangeResult> {
        let prefix = prefix.to_string();
        self.read(move |connection| read::range(connection, &prefix, &options))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let key = key.to_string();
        written(self.write(Write::Create { key, value }).await?)
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> Result<KeyValue> {
        let key = key.to_string();
        let write = Write::Update {
            key,
            value,
            expected: expected_mod_revision,
        };
        written(self.write(write).await?)
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>) -> Result<KeyValue> {
        let key = key.to_string();
        let write = Write::Delete {
            key,
            expected: expected_mod_revision,
        };
        written(self.write(write).await?)
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        // Subscribe before reading the log, so no commit falls between the two.
        let receiver = self.inner.events.subscribe();
        let compacted = self.compacted_revision().await?;
        if after < compacted {
            return Err(StoreError::Compacted {
                requested: after + 1,
                compacted,
            });
        }
        let (sender, stream) = mpsc::channel(WATCH_BUFFER);
        let store = self.clone();
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            let feed = WatchFeed {
                store,
                prefix,
                last: after,
                sender,
            };
            feed.run(receiver).await;
        });
        Ok(Box::pin(tokio_stream_from(stream)))
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.read(|connection| schema::read_meta(connection, "revision").map_err(backend))
            .await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.read(|connection| schema::read_meta(connection, "compacted").map_err(backend))
            .await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.write(Write::Compact { revision }).await.map(|_| ())
    }
}

/// Turns an mpsc receiver into a stream.
fn tokio_stream_from(
    mut receiver: mpsc::Receiver<Result<Event>>,
) -> impl futures::Stream<Item = Result<Event>> + Send {
    futures::stream::poll_fn(move |context| receiver.poll_recv(context))
}

/// Feeds one watch: catches up from the log on disk, then follows the
/// in-memory event broadcast, going back to disk whenever it falls behind.
struct WatchFeed {
    store: SqliteStore,
    prefix: String,
    /// The revision of the newest event considered so far.
    last: Revision,
    sender: mpsc::Sender<Result<Event>>,
}

impl WatchFeed {
    async fn run(mut self, mut receiver: broadcast::Receiver<Event>) {
        loop {
            if let Err(error) = self.catch_up().await {
                let _ = self.sender.send(Err(error)).await;
                return;
            }
            loop {
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    () = self.sender.closed() => return,
                };
                match received {
                    Ok(event) => {
                        if !self.forward(event).await {
                            return;
                        }
                    }
                    // Missed events are read back from disk.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }

    /// Sends the events committed after `last` from the log on disk.
    async fn catch_up(&mut self) -> Result<()> {
        let until = self.store.current_revision().await?;
        if until <= self.last {
            return Ok(());
        }
        let prefix = self.prefix.clone();
        let after = self.last;
        let events = self
            .store
            .read(move |connection| read::history(connection, &prefix, after, until))
            .await?;
        for event in events {
            if self.sender.send(Ok(event)).await.is_err() {
                return Ok(());
            }
        }
        self.last = until;
        Ok(())
    }

    /// Sends one broadcast event if it is new and under the prefix. Returns
    /// false once the consumer is gone.
    async fn forward(&mut self, event: Event) -> bool {
        if event.kv.mod_revision <= self.last {
            return true;
        }
        self.last = event.kv.mod_revision;
        if !event.kv.key.starts_with(&self.prefix) {
            return true;
        }
        self.sender.send(Ok(event)).await.is_ok()
    }
}
