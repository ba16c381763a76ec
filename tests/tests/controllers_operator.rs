//! The example operator (a kube-rs `Controller`) against skiff: a ConfigMap
//! sets the replica count of a Deployment, and the controller manager
//! turns that into pods.

mod controllers_support;

use controllers_support::{Cluster, deployment, pods, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn wait_replicas(cluster: &Cluster, namespace: &str, replicas: i32) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    wait_for(&format!("{replicas} replicas"), || async {
        let spec = api.get("web").await?.spec.and_then(|spec| spec.replicas);
        let running = pods(&cluster.client, namespace, "app=web").await?.len();
        Ok((spec == Some(replicas) && running == usize::try_from(replicas)?).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_scales_deployment_from_configmap() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("operator").await?;
    let operator_shutdown = CancellationToken::new();
    let operator = tokio::spawn(skiff_example_configmap_scaler::run(
        cluster.client.clone(),
        operator_shutdown.clone(),
    ));

    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    deployments
        .create(&PostParams::default(), &deployment("web", 1, "img:1")?)
        .await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &namespace);
    let scale: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "web-scale", "labels": {skiff_example_configmap_scaler::ENABLED_LABEL: "true"}},
        "data": {"deployment": "web", "replicas": "4"},
    }))?;
    configmaps.create(&PostParams::default(), &scale).await?;
    wait_replicas(&cluster, &namespace, 4).await?;

    let patch = json!({"data": {"replicas": "2"}});
    configmaps
        .patch("web-scale", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    wait_replicas(&cluster, &namespace, 2).await?;

    // A manual scale is undone by the operator.
    let manual = json!({"spec": {"replicas": 5}});
    deployments
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(&manual))
        .await?;
    wait_replicas(&cluster, &namespace, 2).await?;

    operator_shutdown.cancel();
    operator.await?;
    Ok(())
}
