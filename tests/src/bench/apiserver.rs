//! The apiserver case: the store benchmark's creates, gets, lists and watch
//! fan-out sent as Kubernetes requests to a real `skiff apiserver` process,
//! printed beside the raw store's numbers from the same run, plus the
//! apiserver's resident memory with every pod stored.

use std::fmt::Write as _;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use super::Summary;
use super::procfs;
use super::store::{self, Workload};
use crate::apiserver::ApiServer;

/// Results of the HTTP run.
pub struct ApiResults {
    pub creates: Summary,
    pub gets: Summary,
    pub lists: Summary,
    pub fanout: Summary,
    /// Resident memory of the apiserver process before any request.
    pub rss_empty: u64,
    /// Resident memory right after the creates, with `count` pods stored.
    pub rss_created: u64,
    /// Resident memory with `count` pods stored, after every phase.
    pub rss_loaded: u64,
}

/// Runs the raw store and the apiserver on the same workload and returns the
/// Markdown section.
pub async fn run(workload: Workload) -> anyhow::Result<String> {
    let raw = store::run(workload).await?;
    let api = run_http(workload).await?;
    Ok(report(workload, &raw, &api))
}

/// Builds a pod with about 1.4 KiB of annotation, close to the raw store's values.
fn sample_pod(index: usize) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": format!("bench-{index:06}"),
            "annotations": {"bench/padding": "x".repeat(1400)},
        },
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    }))?)
}

async fn run_http(workload: Workload) -> anyhow::Result<ApiResults> {
    let server = ApiServer::start()?;
    let pid = server
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the apiserver has no process id"))?;
    let rss_empty = procfs::sample(pid).map(|s| s.rss).unwrap_or(0);
    let client = server.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let creates = store::timed_parallel(workload.count, workload.concurrency, {
        let pods = pods.clone();
        move |index| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &sample_pod(index)?)
                    .await?;
                Ok(())
            }
        }
    })
    .await?;
    let rss_created = procfs::sample(pid).map(|s| s.rss).unwrap_or(0);
    let gets = store::timed_parallel(workload.count, workload.concurrency, {
        let pods = pods.clone();
        move |index| {
            let pods = pods.clone();
            async move {
                pods.get(&format!("bench-{index:06}")).await?;
                Ok(())
            }
        }
    })
    .await?;
    let lists = store::timed_parallel(workload.lists, 1, {
        let pods = pods.clone();
        move |_| {
            let pods = pods.clone();
            async move {
                pods.list(&ListParams::default().limit(500)).await?;
                Ok(())
            }
        }
    })
    .await?;
    let fanout = watch_fanout(&client, workload.watchers, workload.events).await?;
    let rss_loaded = procfs::sample(pid).map(|s| s.rss).unwrap_or(0);
    Ok(ApiResults {
        creates,
        gets,
        lists,
        fanout,
        rss_empty,
        rss_created,
        rss_loaded,
    })
}

/// Opens `watchers` ConfigMap watches, each on its own connection, and
/// creates `events` ConfigMaps one after another.
async fn watch_fanout(
    client: &kube::Client,
    watchers: usize,
    events: usize,
) -> anyhow::Result<Summary> {
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let version = configmaps
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let opened = futures::stream::iter(0..watchers)
        .map(|_| {
            let configmaps = configmaps.clone();
            let version = version.clone();
            async move {
                let stream = configmaps.watch(&WatchParams::default(), &version).await?;
                anyhow::Ok(stream.map(|event| -> anyhow::Result<Option<usize>> {
                    match event? {
                        WatchEvent::Added(configmap) => Ok(configmap
                            .metadata
                            .name
                            .and_then(|name| name.strip_prefix("fanout-")?.parse().ok())),
                        WatchEvent::Error(status) => anyhow::bail!("the watch failed: {status:?}"),
                        _ => Ok(None),
                    }
                }))
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<_>>()
        .await?;
    let streams: Vec<_> = opened.into_iter().map(Box::pin).collect();
    super::fanout::measure(streams, events, |index| {
        let configmaps = configmaps.clone();
        async move {
            let configmap: ConfigMap = serde_json::from_value(json!({
                "metadata": {"name": format!("fanout-{index}")},
                "data": {"value": "x".repeat(1400)},
            }))?;
            configmaps
                .create(&PostParams::default(), &configmap)
                .await?;
            Ok(())
        }
    })
    .await
}

fn report(workload: Workload, raw: &store::StoreResults, api: &ApiResults) -> String {
    let mut out = String::new();
    let Workload {
        count,
        concurrency,
        watchers,
        events,
        ..
    } = workload;
    let _ = writeln!(
        out,
        "### Apiserver over HTTP against the raw SQLite store\n\n\
         {count} pod-sized objects created and read back with {concurrency} requests in \
         flight; lists of 500 sent one at a time; watch fan-out is {watchers} watchers \
         each receiving {events} writes made one after another (rate = deliveries per \
         second). The apiserver is a `skiff apiserver` process reached through kube-rs; \
         the raw store is `SqliteStore` called in-process.\n"
    );
    let _ = writeln!(
        out,
        "| operation | apiserver ops/s | p50 ms | p99 ms | raw store ops/s | p50 ms | p99 ms | apiserver / store rate |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let rows = [
        ("create", &api.creates, &raw.creates),
        ("get", &api.gets, &raw.gets),
        ("list 500", &api.lists, &raw.lists),
        ("watch delivery", &api.fanout, &raw.fanout),
    ];
    for (name, http, store) in rows {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            http.rate(),
            millis(http.p50),
            millis(http.p99),
            store.rate(),
            millis(store.p50),
            millis(store.p99),
            http.rate() / store.rate().max(1e-9)
        );
    }
    let behind: Vec<String> = rows
        .iter()
        .filter(|(_, http, store)| http.rate() < 0.1 * store.rate())
        .map(|(name, http, store)| {
            format!(
                "{name} ({:.1} %)",
                100.0 * http.rate() / store.rate().max(1e-9)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\nThe apiserver adds HTTP, JSON, admission and validation to every store call, so \
         it trails the raw store; the last column shows by how much."
    );
    if !behind.is_empty() {
        let _ = writeln!(
            out,
            "\n**Far behind the reference:** {} of the raw store's rate.",
            behind.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\nApiserver resident memory: {} MiB empty, {} MiB right after creating {count} \
         pods, {} MiB after the gets, lists and the {watchers}-watcher fan-out.",
        procfs::mib(api.rss_empty),
        procfs::mib(api.rss_created),
        procfs::mib(api.rss_loaded)
    );
    out
}

fn millis(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
