//! The scheduler against a real apiserver: placement by resources,
//! selectors, affinity, taints and spreading, and the unschedulable path.

mod scheduler_cluster;

use std::collections::HashSet;

use anyhow::Result;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams};
use scheduler_cluster::Cluster;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_exhausted_then_node_added() -> Result<()> {
    let cluster = Cluster::start().await?;
    cluster.add_node("small-1", "1", "2Gi", json!({})).await?;
    cluster.add_node("small-2", "1", "2Gi", json!({})).await?;
    let requests = json!({"cpu": "600m", "memory": "64Mi"});
    cluster
        .add_pod("fits-1", requests.clone(), json!({}))
        .await?;
    cluster
        .add_pod("fits-2", requests.clone(), json!({}))
        .await?;
    let first = cluster.wait_for_node("fits-1").await?;
    let second = cluster.wait_for_node("fits-2").await?;
    assert_ne!(first, second, "two 600m pods cannot share a 1-CPU node");

    cluster
        .add_pod("waits", requests.clone(), json!({}))
        .await?;
    let (reason, message) = cluster.wait_for_unschedulable("waits").await?;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are \
         available: 2 No preemption victims found for incoming pod."
    );
    let event = cluster.wait_for_event("waits", "FailedScheduling").await?;
    assert_eq!(event, message);

    // The backoff is a minute, so a quick placement proves the node event
    // triggered the retry.
    cluster.add_node("large", "4", "8Gi", json!({})).await?;
    assert_eq!(cluster.wait_for_node("waits").await?, "large");
    let scheduled = cluster.wait_for_event("waits", "Scheduled").await?;
    assert_eq!(scheduled, "Successfully assigned default/waits to large");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_and_affinity_choose_the_node() -> Result<()> {
    let cluster = Cluster::start().await?;
    for (name, disk, zone) in [
        ("n-ssd", "ssd", "a"),
        ("n-hdd", "hdd", "b"),
        ("n-none", "", "c"),
    ] {
        let mut labels = json!({"zone": zone});
        if !disk.is_empty() {
            labels["disk"] = json!(disk);
        }
        cluster
            .add_node(name, "2", "4Gi", json!({"metadata": {"labels": labels}}))
            .await?;
    }
    let requests = json!({"cpu": "100m"});
    cluster
        .add_pod(
            "by-selector",
            requests.clone(),
            json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
        )
        .await?;
    let required = |expressions: serde_json::Value| {
        json!({"spec": {"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [expressions]
            }
        }}}})
    };
    let not_ssd_not_a = required(json!({"matchExpressions": [
        {"key": "disk", "operator": "Exists"},
        {"key": "zone", "operator": "NotIn", "values": ["a"]},
    ]}));
    cluster
        .add_pod("by-expressions", requests.clone(), not_ssd_not_a)
        .await?;
    let by_name = required(json!({"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["n-none"]},
    ]}));
    cluster
        .add_pod("by-field", requests.clone(), by_name)
        .await?;
    let preferred = json!({"spec": {"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "preference": {"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["c"]}
            ]}}
        ]
    }}}});
    cluster
        .add_pod("by-preference", requests.clone(), preferred)
        .await?;
    assert_eq!(cluster.wait_for_node("by-selector").await?, "n-ssd");
    assert_eq!(cluster.wait_for_node("by-expressions").await?, "n-hdd");
    assert_eq!(cluster.wait_for_node("by-field").await?, "n-none");
    assert_eq!(cluster.wait_for_node("by-preference").await?, "n-none");

    let nowhere = required(json!({"matchExpressions": [
        {"key": "disk", "operator": "In", "values": ["nvme"]},
    ]}));
    cluster.add_pod("nowhere", requests, nowhere).await?;
    let (_, message) = cluster.wait_for_unschedulable("nowhere").await?;
    assert_eq!(
        message,
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taints_keep_pods_away_unless_tolerated() -> Result<()> {
    let cluster = Cluster::start().await?;
    let control_plane = json!({
        "metadata": {"labels": {"kubernetes.io/hostname": "control-plane"}},
        "spec": {"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
        ]},
    });
    cluster
        .add_node("control-plane", "8", "16Gi", control_plane)
        .await?;
    cluster.add_node("worker-1", "1", "2Gi", json!({})).await?;
    cluster.add_node("worker-2", "1", "2Gi", json!({})).await?;

    let tolerant = json!({"spec": {
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
        "nodeSelector": {"kubernetes.io/hostname": "control-plane"},
    }});
    cluster
        .add_pod("tolerates", json!({"cpu": "2"}), tolerant)
        .await?;
    assert_eq!(cluster.wait_for_node("tolerates").await?, "control-plane");

    cluster
        .add_pod("plain", json!({"cpu": "2"}), json!({}))
        .await?;
    let (reason, message) = cluster.wait_for_unschedulable("plain").await?;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/3 nodes are available: 1 node(s) had untolerated taint \
         {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: \
         0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
         2 No preemption victims found for incoming pod."
    );

    // Lifting the taint is a node update, which retries the pod at once.
    let untainted = json!({"spec": {"taints": null}});
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    nodes
        .patch(
            "control-plane",
            &PatchParams::default(),
            &Patch::Merge(&untainted),
        )
        .await?;
    assert_eq!(cluster.wait_for_node("plain").await?, "control-plane");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_spread_over_equal_nodes() -> Result<()> {
    let cluster = Cluster::start().await?;
    for name in ["node-1", "node-2", "node-3"] {
        cluster.add_node(name, "4", "8Gi", json!({})).await?;
    }
    let owned = json!({"metadata": {"labels": {"app": "web"}, "ownerReferences": [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9",
        "uid": "6f1c2a8e-0000-4000-8000-00000000beef",
        "controller": true, "blockOwnerDeletion": true,
    }]}});
    let mut nodes = HashSet::new();
    for index in 1..=3 {
        let name = format!("web-{index}");
        cluster
            .add_pod(
                &name,
                json!({"cpu": "100m", "memory": "64Mi"}),
                owned.clone(),
            )
            .await?;
        // One at a time, so each decision counts the replicas placed before it.
        nodes.insert(cluster.wait_for_node(&name).await?);
    }
    assert_eq!(nodes.len(), 3, "replicas landed on {nodes:?}");
    Ok(())
}
