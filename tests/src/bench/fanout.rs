//! Watch fan-out measurement shared by the store and apiserver cases: many
//! watchers are opened first, then events are written one after another, and
//! every watcher records when each event reached it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::Stream;
use futures::StreamExt;

use super::Summary;

/// How long the last event may take to reach every watcher.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(300);

/// Delivery of `events` writes to every opened watcher.
///
/// `watchers` contains streams yielding the index of each event they receive
/// (`None` for events of no interest). `write(i)` performs write `i`.
/// The summary counts one operation per delivery; its latency runs from the
/// start of the write to the watcher receiving it.
pub async fn measure<S, W, Fut>(
    watchers: Vec<S>,
    events: usize,
    write: W,
) -> anyhow::Result<Summary>
where
    S: Stream<Item = anyhow::Result<Option<usize>>> + Send + Unpin + 'static,
    W: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let sent: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..events).map(|_| std::sync::OnceLock::new()).collect());
    let mut tasks = tokio::task::JoinSet::new();
    for mut stream in watchers {
        let sent = sent.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(events);
            let mut last = Instant::now();
            while latencies.len() < events {
                let Some(item) = stream.next().await else {
                    anyhow::bail!("a watch ended after {} of {events} events", latencies.len());
                };
                let Some(index) = item? else { continue };
                last = Instant::now();
                let start = sent
                    .get(index)
                    .and_then(|cell| cell.get().copied())
                    .with_context(|| format!("event {index} arrived before it was sent"))?;
                latencies.push(last - start);
            }
            anyhow::Ok((latencies, last))
        });
    }
    let begun = Instant::now();
    for index in 0..events {
        let _ = sent[index].set(Instant::now());
        write(index).await?;
    }
    let mut latencies = Vec::new();
    let mut finished = begun;
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    while let Some(joined) = tokio::time::timeout_at(deadline, tasks.join_next())
        .await
        .context("watchers did not receive every event in time")?
    {
        let (mut own, last) = joined??;
        latencies.append(&mut own);
        finished = finished.max(last);
    }
    Ok(Summary::from_latencies(latencies, finished - begun))
}
