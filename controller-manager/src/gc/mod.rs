//! The garbage collector: watches every deletable resource and deletes or
//! orphans the dependents of deleted owners.

mod collector;
mod graph;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::discovery::{self, Resource};
use crate::informer::Informer;
use collector::Collector;
use graph::{Graph, Node};

/// Wait after a change before a pass, so a burst of changes makes one pass.
const DEBOUNCE: Duration = Duration::from_millis(100);

struct Monitor {
    resource: Arc<Resource>,
    informer: Informer<DynamicObject>,
    stop: CancellationToken,
}

/// Runs the collector until `shutdown` is cancelled.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) {
    let changed = Arc::new(Notify::new());
    let mut monitors: HashMap<Resource, Monitor> = HashMap::new();
    let mut collector = Collector::new(client.clone());
    let mut resync = tokio::time::interval(config.gc_resync_period);
    let mut rediscover = tokio::time::interval(config.discovery_period);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = rediscover.tick() => {
                update_monitors(&client, &mut monitors, &changed, &shutdown).await;
                continue;
            }
            _ = changed.notified() => tokio::time::sleep(DEBOUNCE).await,
            _ = resync.tick() => {}
        }
        if !all_ready(&monitors).await {
            continue;
        }
        let (graph, kinds) = snapshot(&monitors);
        collector.pass(&graph, &kinds).await;
    }
    for monitor in monitors.values() {
        monitor.stop.cancel();
    }
}

/// Starts watches for newly served resources and stops the ones no longer
/// served.
async fn update_monitors(
    client: &Client,
    monitors: &mut HashMap<Resource, Monitor>,
    changed: &Arc<Notify>,
    shutdown: &CancellationToken,
) {
    let resources = match discovery::deletable_resources(client).await {
        Ok(resources) => resources,
        Err(error) => {
            tracing::warn!(error = %error, "garbage collector discovery failed, keeping the current watches");
            return;
        }
    };
    monitors.retain(|resource, monitor| {
        let served = resources.contains(resource);
        if !served {
            monitor.stop.cancel();
        }
        served
    });
    for resource in resources {
        if monitors.contains_key(&resource) {
            continue;
        }
        let stop = shutdown.child_token();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource.api);
        let informer = Informer::start_with(
            api,
            watcher::Config::default(),
            resource.api.clone(),
            stop.clone(),
        );
        let notify = changed.clone();
        informer.observe(move |_| notify.notify_one());
        tracing::debug!(resource = %resource.api.plural, group = %resource.api.group, "garbage collector watching");
        monitors.insert(
            resource.clone(),
            Monitor {
                resource: Arc::new(resource),
                informer,
                stop,
            },
        );
    }
}

/// Returns whether every watch finished its first list, so an owner missing
/// from the graph is really missing from the cache.
async fn all_ready(monitors: &HashMap<Resource, Monitor>) -> bool {
    for monitor in monitors.values() {
        let ready = tokio::time::timeout(
            Duration::from_millis(10),
            monitor.informer.wait_until_ready(),
        )
        .await;
        if !matches!(ready, Ok(true)) {
            return false;
        }
    }
    !monitors.is_empty()
}

type Kinds = HashMap<(String, String), Arc<Resource>>;

fn snapshot(monitors: &HashMap<Resource, Monitor>) -> (Graph, Kinds) {
    let mut graph = Graph::default();
    let mut kinds = HashMap::new();
    for monitor in monitors.values() {
        let api = &monitor.resource.api;
        kinds.insert(
            (api.api_version.clone(), api.kind.clone()),
            monitor.resource.clone(),
        );
        for object in monitor.informer.store().state() {
            if let Some(node) = Node::from_object(monitor.resource.clone(), &object) {
                graph.insert(node);
            }
        }
    }
    (graph, kinds)
}
