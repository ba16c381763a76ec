//! Periodic compaction, so the revision log does not grow without bound.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{Revision, Store};

/// Compacts `store` every `interval` to the revision that was current one
/// interval earlier, the way the Kubernetes apiserver compacts etcd. Watches
/// and reads can therefore resume from any revision up to `interval` old.
pub fn spawn(store: Arc<dyn Store>, interval: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut previous: Option<Revision> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Some(revision) = previous
                && let Err(error) = store.compact(revision).await
            {
                tracing::warn!(%error, revision, "compaction failed");
            }
            match store.current_revision().await {
                Ok(revision) => previous = Some(revision),
                Err(error) => tracing::warn!(%error, "failed to read the current revision"),
            }
        }
    });
}
