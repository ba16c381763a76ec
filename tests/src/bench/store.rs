//! The raw store benchmark: the same operations the apiserver benchmark
//! sends over HTTP, run directly on the SQLite store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use skiff_store::sqlite::SqliteStore;
use skiff_store::{RangeOptions, Store};

use super::Summary;

/// A pod-sized JSON value, about 1.5 KiB like a small real pod.
pub fn sample_value(index: usize) -> Bytes {
    let padding = "x".repeat(1400);
    Bytes::from(format!(
        "{{\"kind\":\"Pod\",\"metadata\":{{\"name\":\"bench-{index}\"}},\"spec\":{{\"padding\":\"{padding}\"}}}}"
    ))
}

/// Results of the raw store run.
pub struct StoreResults {
    pub creates: Summary,
    pub gets: Summary,
    pub lists: Summary,
}

/// Creates `count` keys from `concurrency` tasks, reads each back, then lists
/// the prefix `lists` times.
pub async fn run(count: usize, concurrency: usize, lists: usize) -> anyhow::Result<StoreResults> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("bench.db"))?);

    let creates = timed_parallel(count, concurrency, {
        let store = store.clone();
        move |index| {
            let store = store.clone();
            async move {
                store
                    .create(&format!("/registry/pods/bench/pod-{index:06}"), sample_value(index))
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        }
    })
    .await?;

    let gets = timed_parallel(count, concurrency, {
        let store = store.clone();
        move |index| {
            let store = store.clone();
            async move {
                store
                    .get(&format!("/registry/pods/bench/pod-{index:06}"))
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        }
    })
    .await?;

    let lists = timed_parallel(lists, 1, {
        let store = store.clone();
        move |_| {
            let store = store.clone();
            async move {
                let options = RangeOptions {
                    limit: Some(500),
                    ..RangeOptions::default()
                };
                store
                    .range("/registry/pods/bench/", options)
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        }
    })
    .await?;
    Ok(StoreResults { creates, gets, lists })
}

/// Runs `operation(i)` for i in 0..count with at most `concurrency` in flight
/// and summarises the latencies.
pub async fn timed_parallel<F, Fut>(count: usize, concurrency: usize, operation: F) -> anyhow::Result<Summary>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    use futures::StreamExt;
    let operation = Arc::new(operation);
    let start = Instant::now();
    let latencies: Vec<anyhow::Result<Duration>> = futures::stream::iter(0..count)
        .map(|index| {
            let operation = operation.clone();
            async move {
                let begun = Instant::now();
                operation(index).await?;
                Ok(begun.elapsed())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let elapsed = start.elapsed();
    let latencies = latencies.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Summary::from_latencies(latencies, elapsed))
}
