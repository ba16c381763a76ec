//! State shared by every request handler.

use std::collections::HashMap;
use std::sync::Arc;

use skiff_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::proxy::KubeletClient;
use crate::registry::{self, Resource};
use crate::watch::cache::WatchCache;

pub struct AppState {
    pub store: Arc<dyn Store>,
    /// One watch cache per storage prefix (core and events.k8s.io Events share one).
    caches: HashMap<&'static str, Arc<WatchCache>>,
    pub metrics: Metrics,
    pub kubelet: KubeletClient,
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Starts a watch cache for every served resource.
    pub async fn start(
        store: Arc<dyn Store>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, StoreError> {
        let mut caches = HashMap::new();
        for resource in registry::all() {
            if caches.contains_key(resource.storage_prefix) {
                continue;
            }
            let cache =
                WatchCache::start(Arc::clone(&store), resource.prefix(None), shutdown.clone())
                    .await?;
            caches.insert(resource.storage_prefix, cache);
        }
        Ok(Arc::new(Self {
            store,
            caches,
            metrics: Metrics::default(),
            kubelet: KubeletClient::new(),
            shutdown,
        }))
    }

    pub fn cache(&self, resource: &Resource) -> &Arc<WatchCache> {
        // Every registry entry gets a cache in `start`.
        &self.caches[resource.storage_prefix]
    }
}

impl AppState {
    /// Returns the number of watch-cache subscriptions, for `/metrics`.
    pub fn watch_receivers(&self) -> usize {
        self.caches.values().map(|cache| cache.receivers()).sum()
    }
}
