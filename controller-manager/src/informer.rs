//! A watch-backed cache of one resource type that tells observers what
//! changed and feeds the trigger streams of controllers.
//!
//! kube-rs's reflector keeps the cache. On top of it this module computes
//! the previous version of each changed object (so observers can tell an
//! addition from an update), runs observers after the cache holds the change
//! and before any controller is triggered, and replays the whole cache to
//! each new subscriber.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{Stream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{Lookup, ObjectRef, Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

/// One change of a cached object, seen after the cache applied it.
pub enum Change<K> {
    /// The object was added (`old` is `None`) or modified.
    Applied { old: Option<Arc<K>>, new: Arc<K> },
    /// The object was deleted; this is its last known state.
    Deleted(Arc<K>),
}

impl<K> Change<K> {
    /// Returns the current (or, for deletions, the last) state of the object.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Applied { new, .. } => new,
            Change::Deleted(old) => old,
        }
    }
}

type Observer<K> = Box<dyn Fn(&Change<K>) + Send + Sync>;
type Filter<K> = Box<dyn Fn(&Change<K>) -> bool + Send + Sync>;

struct Subscriber<K> {
    filter: Filter<K>,
    sender: mpsc::UnboundedSender<Result<K, watcher::Error>>,
}

struct Listeners<K> {
    observers: Vec<Observer<K>>,
    subscribers: Vec<Subscriber<K>>,
}

/// A cache of one resource type kept current by a watch.
pub struct Informer<K>
where
    K: Resource + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    listeners: Arc<Mutex<Listeners<K>>>,
}

impl<K> Clone for Informer<K>
where
    K: Resource + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            listeners: self.listeners.clone(),
        }
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync + Default,
{
    /// Starts watching `api` in a task that stops when `shutdown` is cancelled.
    pub fn start(api: Api<K>, config: watcher::Config, shutdown: CancellationToken) -> Self {
        Self::start_with(api, config, K::DynamicType::default(), shutdown)
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    /// Starts watching `api` of a resource described by `dyntype`.
    pub fn start_with(
        api: Api<K>,
        config: watcher::Config,
        dyntype: K::DynamicType,
        shutdown: CancellationToken,
    ) -> Self {
        let writer = Writer::new(dyntype.clone());
        let store = writer.as_reader();
        let listeners = Arc::new(Mutex::new(Listeners {
            observers: Vec::new(),
            subscribers: Vec::new(),
        }));
        let task = WatchTask {
            writer,
            store: store.clone(),
            dyntype,
            listeners: listeners.clone(),
            init_buffer: Vec::new(),
        };
        tokio::spawn(task.run(api, config, shutdown));
        Self { store, listeners }
    }

    /// Returns the cache.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Waits until the first list finished, so the cache is complete.
    pub async fn wait_until_ready(&self) -> bool {
        self.store.wait_until_ready().await.is_ok()
    }

    /// Registers a callback that runs for every change, after the cache
    /// applied it and before subscribers are notified.
    pub fn observe(&self, observer: impl Fn(&Change<K>) + Send + Sync + 'static) {
        lock(&self.listeners).observers.push(Box::new(observer));
    }

    /// Returns a stream of every object that changes, starting with the
    /// whole cache.
    pub fn subscribe(&self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        self.subscribe_filtered(|_| true)
    }

    /// Returns a stream of the objects whose changes pass `filter`, starting
    /// with the whole cache.
    pub fn subscribe_filtered(
        &self,
        filter: impl Fn(&Change<K>) -> bool + Send + Sync + 'static,
    ) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut listeners = lock(&self.listeners);
        for object in self.store.state() {
            let _ = sender.send(Ok(object.as_ref().clone()));
        }
        listeners.subscribers.push(Subscriber {
            filter: Box::new(filter),
            sender,
        });
        UnboundedReceiverStream::new(receiver)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking observer must not stop every later notification.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct WatchTask<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    writer: Writer<K>,
    store: Store<K>,
    dyntype: K::DynamicType,
    listeners: Arc<Mutex<Listeners<K>>>,
    init_buffer: Vec<Arc<K>>,
}

impl<K> WatchTask<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    async fn run(mut self, api: Api<K>, config: watcher::Config, shutdown: CancellationToken) {
        let resource = K::plural(&self.dyntype).to_string();
        let mut events = watcher::watcher(api, config).default_backoff().boxed();
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                next = events.next() => next,
            };
            match next {
                None => break,
                Some(Ok(event)) => {
                    let changes = self.apply(event);
                    self.dispatch(&changes);
                }
                Some(Err(error)) => {
                    tracing::warn!(resource = %resource, error = %error, "watch failed, retrying");
                }
            }
        }
        tracing::debug!(resource = %resource, "watch stopped");
    }

    fn key(&self, object: &K) -> ObjectRef<K> {
        object.to_object_ref(self.dyntype.clone())
    }

    fn apply(&mut self, event: Event<K>) -> Vec<Change<K>> {
        match &event {
            Event::Apply(object) => {
                let old = self.store.get(&self.key(object));
                self.writer.apply_watcher_event(&event);
                vec![Change::Applied {
                    old,
                    new: Arc::new(object.clone()),
                }]
            }
            Event::Delete(object) => {
                self.writer.apply_watcher_event(&event);
                vec![Change::Deleted(Arc::new(object.clone()))]
            }
            Event::Init => {
                self.writer.apply_watcher_event(&event);
                self.init_buffer.clear();
                Vec::new()
            }
            Event::InitApply(object) => {
                self.writer.apply_watcher_event(&event);
                self.init_buffer.push(Arc::new(object.clone()));
                Vec::new()
            }
            Event::InitDone => {
                let mut previous: HashMap<ObjectRef<K>, Arc<K>> = self
                    .store
                    .state()
                    .into_iter()
                    .map(|object| (self.key(&object), object))
                    .collect();
                self.writer.apply_watcher_event(&event);
                let mut changes = Vec::new();
                for new in std::mem::take(&mut self.init_buffer) {
                    let old = previous.remove(&self.key(&new));
                    changes.push(Change::Applied { old, new });
                }
                changes.extend(previous.into_values().map(Change::Deleted));
                changes
            }
        }
    }

    fn dispatch(&self, changes: &[Change<K>]) {
        if changes.is_empty() {
            return;
        }
        let mut listeners = lock(&self.listeners);
        for change in changes {
            for observer in &listeners.observers {
                observer(change);
            }
            listeners.subscribers.retain(|subscriber| {
                if !(subscriber.filter)(change) {
                    return true;
                }
                let object = change.object().as_ref().clone();
                subscriber.sender.send(Ok(object)).is_ok()
            });
        }
    }
}
