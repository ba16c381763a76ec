//! Node lifecycle against a real apiserver: a node whose Lease stops being
//! renewed is tainted unreachable, pods without a matching toleration are
//! evicted after their tolerationSeconds, and renewal removes the taints.

mod controllers_support;

use std::time::Duration;

use controllers_support::{Cluster, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Renews the node's Lease every 300 ms until `stop` is cancelled.
fn renew_lease(
    client: Client,
    node: String,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<Lease> = Api::namespaced(client, LEASE_NAMESPACE);
        while !stop.is_cancelled() {
            let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
            let patch = json!({"spec": {"renewTime": now}});
            if let Err(error) = api
                .patch(&node, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                eprintln!("lease renewal failed: {error}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

fn bound_pod(name: &str, node: &str, tolerations: serde_json::Value) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "tolerations": tolerations,
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }))?)
}

fn taint_keys(node: &Node) -> Vec<(String, String)> {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|taint| (taint.key.clone(), taint.effect.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn unrenewed_lease_taints_node_and_evicts() -> anyhow::Result<()> {
    let config = skiff_controller_manager::Config {
        node_monitor_grace_period: Duration::from_secs(3),
        node_startup_grace_period: Duration::from_secs(3),
        node_monitor_period: Duration::from_millis(500),
        ..Default::default()
    };
    let cluster = Cluster::start(config).await?;
    let client = cluster.client.clone();
    let node_name = format!("node-{}", controllers_support::unique_suffix());

    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(LEASE_NAMESPACE).await?.is_none() {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": LEASE_NAMESPACE}}))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": node_name}}))?;
    nodes.create(&PostParams::default(), &node).await?;
    let ready = json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "KubeletReady",
        "lastHeartbeatTime": k8s_openapi::jiff::Timestamp::now().to_string(),
        "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string(),
    }]}});
    nodes
        .patch_status(&node_name, &PatchParams::default(), &Patch::Merge(&ready))
        .await?;
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": node_name},
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": 40},
    }))?;
    Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE)
        .create(&PostParams::default(), &lease)
        .await?;
    let renewing = CancellationToken::new();
    let renewal = renew_lease(client.clone(), node_name.clone(), renewing.clone());

    let namespace = cluster.namespace("node-evict").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let unreachable = |seconds: Option<i64>| json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}]);
    pods.create(
        &PostParams::default(),
        &bound_pod("short", &node_name, unreachable(Some(1)))?,
    )
    .await?;
    pods.create(
        &PostParams::default(),
        &bound_pod("default", &node_name, json!([]))?,
    )
    .await?;
    pods.create(
        &PostParams::default(),
        &bound_pod("forever", &node_name, json!([{"operator": "Exists"}]))?,
    )
    .await?;

    renewing.cancel();
    let _ = renewal.await;
    let tainted = wait_for("the unreachable taints", || async {
        let current = nodes.get(&node_name).await?;
        let keys = taint_keys(&current);
        let unreachable = "node.kubernetes.io/unreachable".to_string();
        let both = keys.contains(&(unreachable.clone(), "NoSchedule".to_string()))
            && keys.contains(&(unreachable, "NoExecute".to_string()));
        Ok(both.then_some(current))
    })
    .await?;
    let conditions = tainted
        .status
        .unwrap_or_default()
        .conditions
        .unwrap_or_default();
    let ready = conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready condition");
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));

    wait_for("the short-toleration pod evicted", || async {
        let evicted = match pods.get_opt("short").await? {
            None => true,
            Some(pod) => pod.metadata.deletion_timestamp.is_some(),
        };
        Ok(evicted.then_some(()))
    })
    .await?;
    for name in ["default", "forever"] {
        let pod = pods.get(name).await?;
        assert!(
            pod.metadata.deletion_timestamp.is_none(),
            "pod {name} was evicted too early"
        );
    }

    let renewing = CancellationToken::new();
    let renewal = renew_lease(client.clone(), node_name.clone(), renewing.clone());
    wait_for("the taints removed after renewal", || async {
        let current = nodes.get(&node_name).await?;
        Ok(taint_keys(&current).is_empty().then_some(()))
    })
    .await?;
    renewing.cancel();
    let _ = renewal.await;
    Ok(())
}
