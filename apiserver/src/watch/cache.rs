//! The watch cache: one store watch per resource prefix, fanned out to every
//! client, plus the current objects for `resourceVersion=0` lists.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use serde_json::Value;
use skiff_store::{RangeOptions, Revision, Store, StoreError};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::event::{self, EventType, ObjectEvent};
use crate::object;

/// How many past events the cache keeps for watches that resume from an
/// older resourceVersion. Older resumes read the store instead.
const HISTORY_CAPACITY: usize = 4096;
/// Events buffered per client before a slow client is disconnected.
const CHANNEL_CAPACITY: usize = 8192;

struct State {
    objects: BTreeMap<String, Arc<Value>>,
    /// The revision the cache has caught up to.
    revision: Revision,
    history: VecDeque<Arc<ObjectEvent>>,
    /// The history contains every event after this revision.
    history_start: Revision,
}

/// The cached state of every object under one key prefix.
pub struct WatchCache {
    prefix: String,
    state: RwLock<State>,
    sender: broadcast::Sender<Arc<ObjectEvent>>,
}

/// Current objects at one revision, with a receiver of every later event.
pub struct Snapshot {
    pub objects: Vec<Arc<Value>>,
    pub revision: Revision,
    pub receiver: broadcast::Receiver<Arc<ObjectEvent>>,
}

/// The events after a requested revision, and a receiver of the ones to come.
pub struct Resumed {
    pub backlog: Vec<Arc<ObjectEvent>>,
    pub receiver: broadcast::Receiver<Arc<ObjectEvent>>,
}

impl WatchCache {
    /// Lists `prefix` and starts following it until `shutdown` is cancelled.
    pub async fn start(
        store: Arc<dyn Store>,
        prefix: String,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, StoreError> {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let cache = Arc::new(Self {
            prefix,
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                revision: 0,
                history: VecDeque::new(),
                history_start: 0,
            }),
            sender,
        });
        cache.relist(store.as_ref()).await?;
        let follower = Arc::clone(&cache);
        tokio::spawn(async move {
            tokio::select! {
                () = follower.follow(store) => {}
                () = shutdown.cancelled() => {}
            }
        });
        Ok(cache)
    }

    /// Replaces the cached objects with a fresh list, emitting the differences
    /// as events so that connected clients stay consistent.
    async fn relist(&self, store: &dyn Store) -> Result<(), StoreError> {
        let result = store.range(&self.prefix, RangeOptions::default()).await?;
        let mut fresh = BTreeMap::new();
        for kv in &result.kvs {
            match object::decode(kv) {
                Ok(value) => {
                    fresh.insert(kv.key.clone(), Arc::new(value));
                }
                Err(error) => {
                    tracing::warn!(key = %kv.key, %error, "skipping a stored value that is not valid JSON");
                }
            }
        }
        let mut state = self.write();
        let mut events = Vec::new();
        for (key, old) in &state.objects {
            if !fresh.contains_key(key) {
                let mut gone = (**old).clone();
                object::set_resource_version(&mut gone, result.revision);
                events.push(ObjectEvent {
                    event_type: EventType::Deleted,
                    revision: result.revision,
                    key: key.clone(),
                    object: Arc::new(gone),
                    prev: Some(Arc::clone(old)),
                });
            }
        }
        for (key, new) in &fresh {
            let old = state.objects.get(key);
            if old.is_some_and(|old| old == new) {
                continue;
            }
            events.push(ObjectEvent {
                event_type: if old.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                },
                revision: result.revision,
                key: key.clone(),
                object: Arc::clone(new),
                prev: old.cloned(),
            });
        }
        state.objects = fresh;
        state.revision = state.revision.max(result.revision);
        // Relisted events share one revision, so resumes from inside the gap
        // go to the store.
        state.history.clear();
        state.history_start = state.revision;
        for event in events {
            let _ = self.sender.send(Arc::new(event));
        }
        Ok(())
    }

    async fn follow(&self, store: Arc<dyn Store>) {
        loop {
            let after = self.revision();
            match store.watch(&self.prefix, after).await {
                Ok(mut stream) => {
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(store_event) => {
                                if let Some(decoded) = event::decode(&store_event) {
                                    self.apply(decoded);
                                }
                            }
                            Err(error) => {
                                tracing::warn!(prefix = %self.prefix, %error, "watch cache lost its store watch");
                                break;
                            }
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(prefix = %self.prefix, %error, "watch cache failed to watch the store");
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if let Err(error) = self.relist(store.as_ref()).await {
                tracing::warn!(prefix = %self.prefix, %error, "watch cache failed to relist");
            }
        }
    }

    fn apply(&self, event: ObjectEvent) {
        let event = Arc::new(event);
        let mut state = self.write();
        if event.revision <= state.revision {
            return;
        }
        match event.event_type {
            EventType::Deleted => {
                state.objects.remove(&event.key);
            }
            EventType::Added | EventType::Modified => {
                state
                    .objects
                    .insert(event.key.clone(), Arc::clone(&event.object));
            }
        }
        state.revision = event.revision;
        state.history.push_back(Arc::clone(&event));
        while state.history.len() > HISTORY_CAPACITY {
            if let Some(dropped) = state.history.pop_front() {
                state.history_start = dropped.revision;
            }
        }
        // Sending under the lock keeps subscribers free of gaps and repeats.
        let _ = self.sender.send(event);
    }

    pub fn revision(&self) -> Revision {
        self.read().revision
    }

    /// Returns the current objects whose keys start with `prefix`.
    pub fn snapshot(&self, prefix: &str) -> Snapshot {
        let state = self.read();
        Snapshot {
            objects: state
                .objects
                .range(prefix.to_string()..)
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|(_, value)| Arc::clone(value))
                .collect(),
            revision: state.revision,
            receiver: self.sender.subscribe(),
        }
    }

    /// Returns the events after `after`, or `None` when the cache no longer
    /// holds all of them.
    pub fn resume(&self, after: Revision) -> Option<Resumed> {
        let state = self.read();
        if after < state.history_start {
            return None;
        }
        let backlog = state
            .history
            .iter()
            .filter(|event| event.revision > after)
            .cloned()
            .collect();
        Some(Resumed {
            backlog,
            receiver: self.sender.subscribe(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl WatchCache {
    /// Returns the cache revision when `receiver` has no undelivered events,
    /// so that a bookmark at that revision cannot overtake an event.
    pub fn settled_revision(
        &self,
        receiver: &broadcast::Receiver<Arc<ObjectEvent>>,
    ) -> Option<Revision> {
        let state = self.read();
        receiver.is_empty().then_some(state.revision)
    }
}

impl WatchCache {
    /// Returns the number of clients subscribed to this cache.
    pub fn receivers(&self) -> usize {
        self.sender.receiver_count()
    }
}
