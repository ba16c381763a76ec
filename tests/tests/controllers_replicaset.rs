//! The ReplicaSet controller against a real apiserver: scaling, adoption,
//! release, scale-down order and no overshoot under bursts of changes.

mod controllers_support;

use std::time::Duration;

use controllers_support::{Cluster, controller_uid, mark_ready, pod, pods, replicaset, wait_for};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

async fn wait_pod_count(
    cluster: &Cluster,
    namespace: &str,
    selector: &str,
    count: usize,
) -> anyhow::Result<Vec<Pod>> {
    wait_for(&format!("{count} pods with {selector}"), || async {
        let found = pods(&cluster.client, namespace, selector).await?;
        Ok((found.len() == count).then_some(found))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn replicaset_scales_up_and_down() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("rs-scale").await?;
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    let created = api
        .create(&PostParams::default(), &replicaset("web", 3)?)
        .await?;
    let uid = created.uid().unwrap_or_default();

    let initial = wait_pod_count(&cluster, &namespace, "app=web", 3).await?;
    for pod in &initial {
        assert!(
            pod.name_any().starts_with("web-"),
            "pod {} lacks the web- prefix",
            pod.name_any()
        );
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(controller_uid(pod).as_deref(), Some(uid.as_str()));
        let reference = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(reference.block_owner_deletion, Some(true));
    }
    for pod in &initial {
        mark_ready(&cluster.client, pod).await?;
    }
    wait_for("status with 3 ready replicas", || async {
        let rs = api.get("web").await?;
        let status = rs.status.unwrap_or_default();
        Ok((status.replicas == 3
            && status.ready_replicas == Some(3)
            && status.available_replicas == Some(3)
            && status.fully_labeled_replicas == Some(3)
            && status.observed_generation == rs.metadata.generation)
            .then_some(()))
    })
    .await?;

    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await?;
    let five = wait_pod_count(&cluster, &namespace, "app=web", 5).await?;
    let fresh: Vec<&Pod> = five
        .iter()
        .filter(|pod| !controllers_support::is_ready(pod))
        .collect();
    assert_eq!(fresh.len(), 2, "two new pods are not ready yet");

    // Scaling down removes the not-ready pods before the ready ones.
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await?;
    let three = wait_pod_count(&cluster, &namespace, "app=web", 3).await?;
    assert!(
        three.iter().all(controllers_support::is_ready),
        "a ready pod was deleted before a not-ready one"
    );

    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await?;
    wait_pod_count(&cluster, &namespace, "app=web", 0).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicaset_adopts_and_releases() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("rs-adopt").await?;
    let pod_api: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);
    pod_api
        .create(&PostParams::default(), &pod("orphan", &[("app", "web")])?)
        .await?;

    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    let created = api
        .create(&PostParams::default(), &replicaset("web", 2)?)
        .await?;
    let uid = created.uid().unwrap_or_default();
    let owned = wait_for("the orphan adopted and one pod created", || async {
        let found = pods(&cluster.client, &namespace, "app=web").await?;
        let all_owned = found
            .iter()
            .all(|pod| controller_uid(pod).as_deref() == Some(uid.as_str()));
        Ok((found.len() == 2 && all_owned).then_some(found))
    })
    .await?;
    assert!(owned.iter().any(|pod| pod.name_any() == "orphan"));

    // Relabelling a pod out of the selector releases it and a replacement follows.
    let patch = json!({"metadata": {"labels": {"app": "other"}}});
    pod_api
        .patch("orphan", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    wait_for("the relabelled pod released", || async {
        let released = pod_api.get("orphan").await?;
        Ok(controller_uid(&released).is_none().then_some(()))
    })
    .await?;
    wait_pod_count(&cluster, &namespace, "app=web", 2).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicaset_burst_never_overshoots() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("rs-burst").await?;
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    api.create(&PostParams::default(), &replicaset("web", 1)?)
        .await?;
    let mut maximum = 1;
    for step in 0..50 {
        let replicas = (step * 7) % 11;
        maximum = maximum.max(replicas);
        api.patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await?;
        let current = pods(&cluster.client, &namespace, "app=web").await?.len();
        assert!(
            current <= maximum as usize,
            "{current} pods exceed the largest request {maximum}"
        );
    }
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 6}})),
    )
    .await?;
    wait_pod_count(&cluster, &namespace, "app=web", 6).await?;
    // Settled: the count stays exact while the controller keeps syncing.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let current = pods(&cluster.client, &namespace, "app=web").await?.len();
        assert_eq!(current, 6, "the pod count drifted after settling");
    }
    let status = api.get("web").await?.status.unwrap_or_default();
    assert!(status.replicas <= 6);
    Ok(())
}
