//! The single writer thread of the SQLite backend.
//!
//! Every write goes through one thread that owns the write connection. It
//! takes all requests waiting in its queue, applies them in one transaction
//! (one fsync for the batch), and only after the commit replies to the callers
//! and publishes the events to watchers. Each request is checked before it
//! changes anything, so one failed precondition does not affect the others.

use std::sync::mpsc;
use std::thread;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::{broadcast, oneshot};

use crate::{Event, EventKind, KeyValue, Result, Revision, StoreError};

/// The maximum number of requests committed in one transaction.
const MAX_BATCH: usize = 512;

/// One write request.
pub(crate) enum Write {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    Compact {
        revision: Revision,
    },
}

pub(crate) struct Request {
    pub write: Write,
    pub reply: oneshot::Sender<Result<Option<KeyValue>>>,
}

/// Handle for sending requests to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    sender: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer thread on `connection`. Committed events go to `events`.
    pub fn spawn(
        connection: Connection,
        revision: Revision,
        events: broadcast::Sender<Event>,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel();
        let state = WriterState {
            connection,
            revision,
            events,
        };
        thread::Builder::new()
            .name("skiff-store-writer".to_string())
            .spawn(move || state.run(receiver))?;
        Ok(Self { sender })
    }

    /// Sends one write and waits for its result.
    pub async fn submit(&self, write: Write) -> Result<Option<KeyValue>> {
        let (reply, result) = oneshot::channel();
        self.sender
            .send(Request { write, reply })
            .map_err(|_| StoreError::Backend("the writer thread has stopped".to_string()))?;
        result
            .await
            .map_err(|_| StoreError::Backend("the writer thread dropped a request".to_string()))?
    }
}

struct WriterState {
    connection: Connection,
    revision: Revision,
    events: broadcast::Sender<Event>,
}

/// The outcome of one request inside a batch, before the commit.
struct Applied {
    reply: oneshot::Sender<Result<Option<KeyValue>>>,
    result: Result<Option<KeyValue>>,
    event: Option<Event>,
}

impl WriterState {
    fn run(mut self, receiver: mpsc::Receiver<Request>) {
        while let Ok(first) = receiver.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
        tracing::debug!("store writer stopped");
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let start_revision = self.revision;
        let outcome = self.apply_batch(batch);
        match outcome {
            Ok(applied) => {
                for item in applied {
                    if let Some(event) = item.event {
                        // A send without receivers fails harmlessly when no watch is open.
                        let _ = self.events.send(event);
                    }
                    let _ = item.reply.send(item.result);
                }
            }
            Err((error, replies)) => {
                self.revision = start_revision;
                tracing::error!(%error, "store transaction failed");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Backend(error.to_string())));
                }
            }
        }
    }

    /// Applies the batch in one transaction. On a database error, returns the
    /// error together with every reply channel so that each caller hears of it.
    #[allow(clippy::type_complexity)]
    fn apply_batch(
        &mut self,
        batch: Vec<Request>,
    ) -> std::result::Result<
        Vec<Applied>,
        (
            rusqlite::Error,
            Vec<oneshot::Sender<Result<Option<KeyValue>>>>,
        ),
    > {
        let mut revision = self.revision;
        let mut applied = Vec::with_capacity(batch.len());
        let mut pending = batch.into_iter();
        let transaction = match self.connection.transaction() {
            Ok(transaction) => transaction,
            Err(error) => return Err((error, pending.map(|request| request.reply).collect())),
        };
        let mut failure = None;
        for request in pending.by_ref() {
            match apply_one(&transaction, &mut revision, &request.write) {
                Ok((result, event)) => applied.push(Applied {
                    reply: request.reply,
                    result,
                    event,
                }),
                Err(error) => {
                    applied.push(Applied {
                        reply: request.reply,
                        result: Ok(None),
                        event: None,
                    });
                    failure = Some(error);
                    break;
                }
            }
        }
        let committed = match failure {
            Some(error) => Err(error),
            None => transaction
                .execute(
                    "UPDATE meta SET value = ?1 WHERE name = 'revision'",
                    [revision],
                )
                .and_then(|_| transaction.commit()),
        };
        match committed {
            Ok(()) => {
                self.revision = revision;
                Ok(applied)
            }
            Err(error) => {
                let replies = applied
                    .into_iter()
                    .map(|item| item.reply)
                    .chain(pending.map(|request| request.reply))
                    .collect();
                Err((error, replies))
            }
        }
    }
}

type Outcome = (Result<Option<KeyValue>>, Option<Event>);

/// Applies one write inside the open transaction, advancing `revision` when
/// the write changes anything.
fn apply_one(
    transaction: &Transaction<'_>,
    revision: &mut Revision,
    write: &Write,
) -> rusqlite::Result<Outcome> {
    match write {
        Write::Create { key, value } => create(transaction, revision, key, value),
        Write::Update {
            key,
            value,
            expected,
        } => update(transaction, revision, key, value, *expected),
        Write::Delete { key, expected } => delete(transaction, revision, key, *expected),
        Write::Compact { revision: target } => compact(transaction, *revision, *target),
    }
}

fn current(transaction: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<KeyValue>> {
    transaction
        .query_row(
            "SELECT create_revision, mod_revision, value FROM current WHERE key = ?1",
            [key],
            |row| {
                Ok(KeyValue {
                    key: key.to_string(),
                    create_revision: row.get(0)?,
                    mod_revision: row.get(1)?,
                    value: Bytes::from(row.get::<_, Vec<u8>>(2)?),
                })
            },
        )
        .optional()
}

fn record(transaction: &Transaction<'_>, kv: &KeyValue, deleted: bool) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO log (revision, key, create_revision, deleted, value) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![kv.mod_revision, kv.key, kv.create_revision, deleted, kv.value.as_ref()],
    )?;
    if deleted {
        transaction.execute("DELETE FROM current WHERE key = ?1", [&kv.key])?;
    } else {
        transaction.execute(
            "INSERT OR REPLACE INTO current (key, create_revision, mod_revision, value) VALUES (?1, ?2, ?3, ?4)",
            params![kv.key, kv.create_revision, kv.mod_revision, kv.value.as_ref()],
        )?;
    }
    Ok(())
}

fn create(
    transaction: &Transaction<'_>,
    revision: &mut Revision,
    key: &str,
    value: &Bytes,
) -> rusqlite::Result<Outcome> {
    if current(transaction, key)?.is_some() {
        let error = StoreError::AlreadyExists {
            key: key.to_string(),
        };
        return Ok((Err(error), None));
    }
    *revision += 1;
    let kv = KeyValue {
        key: key.to_string(),
        value: value.clone(),
        create_revision: *revision,
        mod_revision: *revision,
    };
    record(transaction, &kv, false)?;
    let event = Event {
        kind: EventKind::Put,
        kv: kv.clone(),
        prev: None,
    };
    Ok((Ok(Some(kv)), Some(event)))
}

fn update(
    transaction: &Transaction<'_>,
    revision: &mut Revision,
    key: &str,
    value: &Bytes,
    expected: Revision,
) -> rusqlite::Result<Outcome> {
    let Some(previous) = current(transaction, key)? else {
        let error = StoreError::NotFound {
            key: key.to_string(),
        };
        return Ok((Err(error), None));
    };
    if previous.mod_revision != expected {
        let error = StoreError::Conflict {
            key: key.to_string(),
            expected,
            actual: previous.mod_revision,
        };
        return Ok((Err(error), None));
    }
    *revision += 1;
    let kv = KeyValue {
        key: key.to_string(),
        value: value.clone(),
        create_revision: previous.create_revision,
        mod_revision: *revision,
    };
    record(transaction, &kv, false)?;
    let event = Event {
        kind: EventKind::Put,
        kv: kv.clone(),
        prev: Some(previous),
    };
    Ok((Ok(Some(kv)), Some(event)))
}

fn delete(
    transaction: &Transaction<'_>,
    revision: &mut Revision,
    key: &str,
    expected: Option<Revision>,
) -> rusqlite::Result<Outcome> {
    let Some(previous) = current(transaction, key)? else {
        let error = StoreError::NotFound {
            key: key.to_string(),
        };
        return Ok((Err(error), None));
    };
    if let Some(expected) = expected
        && previous.mod_revision != expected
    {
        let error = StoreError::Conflict {
            key: key.to_string(),
            expected,
            actual: previous.mod_revision,
        };
        return Ok((Err(error), None));
    }
    *revision += 1;
    let tombstone = KeyValue {
        key: key.to_string(),
        value: previous.value.clone(),
        create_revision: previous.create_revision,
        mod_revision: *revision,
    };
    record(transaction, &tombstone, true)?;
    let event = Event {
        kind: EventKind::Delete,
        kv: tombstone.clone(),
        prev: Some(previous),
    };
    Ok((Ok(Some(tombstone)), Some(event)))
}

/// Drops history older than `target`: for each key, the newest row at or
/// before `target` stays unless it is a tombstone.
fn compact(
    transaction: &Transaction<'_>,
    current_revision: Revision,
    target: Revision,
) -> rusqlite::Result<Outcome> {
    let compacted: Revision = transaction.query_row(
        "SELECT value FROM meta WHERE name = 'compacted'",
        [],
        |row| row.get(0),
    )?;
    if target > current_revision {
        let error = StoreError::FutureRevision {
            requested: target,
            current: current_revision,
        };
        return Ok((Err(error), None));
    }
    if target <= compacted {
        return Ok((Ok(None), None));
    }
    transaction.execute(
        "DELETE FROM log WHERE revision <= ?1 AND revision NOT IN (
            SELECT MAX(revision) FROM log WHERE revision <= ?1 GROUP BY key)",
        [target],
    )?;
    transaction.execute(
        "DELETE FROM log WHERE revision <= ?1 AND deleted = 1",
        [target],
    )?;
    transaction.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'compacted'",
        [target],
    )?;
    Ok((Ok(None), None))
}
