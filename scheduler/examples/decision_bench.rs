//! Decision throughput of the scheduling algorithm alone, without the
//! apiserver: places M pods on N in-memory nodes and prints decisions per
//! second. Usage: `decision_bench [NODES] [PODS] [PARALLELISM] [PERCENTAGE]`.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;
use skiff_scheduler::algorithm::{Algorithm, Decision, SearchSettings};
use skiff_scheduler::cache::Cache;
use skiff_scheduler::framework::PodInfo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse())
        .collect::<Result<_, _>>()?;
    let nodes = args.first().copied().unwrap_or(5000);
    let pods = args.get(1).copied().unwrap_or(30_000);
    let mut settings = SearchSettings::default();
    if let Some(&parallelism) = args.get(2) {
        settings.parallelism = parallelism.max(1);
    }
    if let Some(&percentage) = args.get(3) {
        settings.percentage_of_nodes_to_score = Some(percentage as u32);
    }
    let mut cache = Cache::default();
    for index in 0..nodes {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": format!("node-{index}")},
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }))?;
        cache.upsert_node(&node);
    }
    let mut algorithm = Algorithm::new(settings);
    let started = Instant::now();
    for index in 0..pods {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("pod-{index}"), "namespace": "default",
                "uid": format!("uid-{index}")},
            "spec": {"containers": [{"name": "app", "image": "busybox",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
        }))?;
        let info = PodInfo::new(Arc::new(pod));
        match algorithm.schedule(&info, cache.nodes()) {
            Decision::Node(node) => cache.place_pod(&info.uid, &node, info.usage.clone(), true),
            Decision::Unschedulable(error) => return Err(error.message().into()),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "decisions nodes={nodes} pods={pods} seconds={seconds:.2} per_second={:.0}",
        pods as f64 / seconds
    );
    Ok(())
}
