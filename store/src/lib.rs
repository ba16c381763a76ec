//! Revisioned key-value storage for the apiserver, shaped like etcd's model.
//!
//! Every write gets the next value of one global, monotonically increasing
//! revision. Each key records the revision that created it and the revision that
//! last modified it; `metadata.resourceVersion` of a Kubernetes object is its
//! `mod_revision`. Readers can range over a prefix at a past revision and watch a
//! prefix from a revision until that revision is compacted away.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

/// A position in the global write log. Revision 0 means "nothing written yet".
pub type Revision = i64;

/// One stored key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (since its last deletion).
    pub create_revision: Revision,
    /// Revision of the latest write to this key.
    pub mod_revision: Revision,
}

/// Whether a watch event stores or removes a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change seen by a watch.
///
/// For `Delete`, `kv.value` is the last value the key had and `kv.mod_revision`
/// is the revision of the deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    /// The value before this event, if the key existed.
    pub prev: Option<KeyValue>,
}

/// Options of a range read.
#[derive(Clone, Debug, Default)]
pub struct RangeOptions {
    /// Read as of this revision; `None` reads the latest state.
    pub revision: Option<Revision>,
    /// Return only keys sorted strictly after this one (pagination).
    pub start_after: Option<String>,
    /// Return at most this many keys.
    pub limit: Option<usize>,
}

/// The result of a range read.
#[derive(Clone, Debug, Default)]
pub struct RangeResult {
    /// Matching keys in ascending key order.
    pub kvs: Vec<KeyValue>,
    /// The revision the read was served at.
    pub revision: Revision,
    /// True when `limit` cut the result and more keys match.
    pub more: bool,
}

/// Errors returned by every storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {key} already exists")]
    AlreadyExists { key: String },
    #[error("key {key} not found")]
    NotFound { key: String },
    /// The key's mod revision differs from the expected one.
    #[error("key {key} was modified: expected mod revision {expected}, found {actual}")]
    Conflict {
        key: String,
        expected: Revision,
        actual: Revision,
    },
    /// The requested revision is older than the compacted revision.
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The requested revision is newer than the current revision.
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("storage backend failed: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stream of watch events in revision order. It yields an error and ends if
/// the watcher falls behind a compaction.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event>> + Send>>;

/// A revisioned key-value store. Every method is safe to call concurrently, and
/// a write returns only once it is durable.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads one key at the latest revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Reads every key that starts with `prefix`.
    async fn range(&self, prefix: &str, options: RangeOptions) -> Result<RangeResult>;

    /// Stores `value` under `key` only if the key does not exist.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces the value of `key` only if its mod revision is `expected_mod_revision`.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> Result<KeyValue>;

    /// Removes `key`, optionally only if its mod revision matches. Returns the
    /// removed value with `mod_revision` set to the revision of the deletion.
    async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>) -> Result<KeyValue>;

    /// Streams every change under `prefix` with a revision greater than `after`.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Returns the latest revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// Returns the oldest revision that ranges and watches can still start from.
    async fn compacted_revision(&self) -> Result<Revision>;

    /// Discards history older than `revision`; the latest value of each key stays.
    async fn compact(&self, revision: Revision) -> Result<()>;
}

pub mod compactor;
pub mod sqlite;
