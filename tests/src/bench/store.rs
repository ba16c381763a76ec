//! The raw store benchmark: the same operations the apiserver benchmark
//! sends over HTTP, run directly on the SQLite store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
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
    pub fanout: Summary,
}

/// Sizes of one run, shared with the apiserver case so both do the same work.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Objects created and then read back one by one.
    pub count: usize,
    /// Requests in flight at once during creates and gets.
    pub concurrency: usize,
    /// Lists of 500 objects, sent one at a time.
    pub lists: usize,
    /// Watchers open during the fan-out measurement.
    pub watchers: usize,
    /// Writes each watcher must receive.
    pub events: usize,
}

/// Creates `count` keys from `concurrency` tasks, reads each back, lists the
/// prefix `lists` times and measures watch fan-out.
pub async fn run(workload: Workload) -> anyhow::Result<StoreResults> {
    let Workload {
        count,
        concurrency,
        lists,
        watchers,
        events,
    } = workload;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("bench.db"))?);

    let creates = timed_parallel(count, concurrency, {
        let store = store.clone();
        move |index| {
            let store = store.clone();
            async move {
                store
                    .create(
                        &format!("/registry/pods/bench/pod-{index:06}"),
                        sample_value(index),
                    )
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
    let fanout = watch_fanout(&store, watchers, events).await?;
    Ok(StoreResults {
        creates,
        gets,
        lists,
        fanout,
    })
}

/// Opens `watchers` store watches on one prefix and writes `events` keys
/// under it, one after another.
async fn watch_fanout(
    store: &Arc<SqliteStore>,
    watchers: usize,
    events: usize,
) -> anyhow::Result<Summary> {
    const PREFIX: &str = "/registry/configmaps/fanout/";
    let revision = store.current_revision().await?;
    let mut streams = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let stream = store.watch(PREFIX, revision).await?;
        streams.push(stream.map(|event| -> anyhow::Result<Option<usize>> {
            let event = event?;
            Ok(event
                .kv
                .key
                .strip_prefix(PREFIX)
                .and_then(|name| name.parse().ok()))
        }));
    }
    super::fanout::measure(streams, events, |index| {
        let store = store.clone();
        async move {
            store
                .create(&format!("{PREFIX}{index}"), sample_value(index))
                .await?;
            Ok(())
        }
    })
    .await
}

/// Runs `operation(i)` for i in 0..count with at most `concurrency` in flight
/// and summarises the latencies.
pub async fn timed_parallel<F, Fut>(
    count: usize,
    concurrency: usize,
    operation: F,
) -> anyhow::Result<Summary>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
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
