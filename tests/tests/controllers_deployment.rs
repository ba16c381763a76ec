//! The Deployment controller against a real apiserver and real kubectl:
//! rolling updates within maxSurge/maxUnavailable, Recreate, rollback,
//! pause, status conditions and events.

mod controllers_support;

use controllers_support::{Cluster, deployment, pods, ready_pods_until, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Event;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

async fn is_rolled_out(api: &Api<Deployment>, name: &str) -> anyhow::Result<bool> {
    let current = api.get(name).await?;
    let desired = current
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let status = current.status.unwrap_or_default();
    Ok(status.observed_generation == current.metadata.generation
        && status.updated_replicas == Some(desired)
        && status.available_replicas == Some(desired)
        && status.replicas == Some(desired))
}

async fn replicasets(client: &Client, namespace: &str) -> anyhow::Result<Vec<ReplicaSet>> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    Ok(api.list(&ListParams::default()).await?.items)
}

fn image_of(replicaset: &ReplicaSet) -> Option<String> {
    replicaset
        .spec
        .as_ref()?
        .template
        .as_ref()?
        .spec
        .as_ref()?
        .containers[0]
        .image
        .clone()
}

fn size_of(replicaset: &ReplicaSet) -> i32 {
    replicaset
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_rolling_update_keeps_ready_pods() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("deploy-roll").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    let mut web = deployment("web", 3, "img:1")?;
    web.spec.as_mut().unwrap().strategy = Some(serde_json::from_value(json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }))?);
    api.create(&PostParams::default(), &web).await?;
    ready_pods_until(&cluster.client, &namespace, "app=web", || {
        is_rolled_out(&api, "web")
    })
    .await?;

    let first = replicasets(&cluster.client, &namespace).await?;
    assert_eq!(first.len(), 1);
    let hash = first[0]
        .labels()
        .get("pod-template-hash")
        .cloned()
        .unwrap_or_default();
    assert_eq!(first[0].name_any(), format!("web-{hash}"));
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &namespace);
    let scaled = format!("Scaled up replica set web-{hash} to 3 from 0");
    wait_for("the ScalingReplicaSet event", || async {
        let list = events.list(&ListParams::default()).await?;
        Ok(list
            .items
            .iter()
            .any(|event| {
                event.reason.as_deref() == Some("ScalingReplicaSet")
                    && event.message.as_deref() == Some(scaled.as_str())
            })
            .then_some(()))
    })
    .await?;

    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    // Stand in for kubelets, one pod at a time, and check the invariants.
    let deadline = std::time::Instant::now() + controllers_support::TIMEOUT;
    loop {
        let current = pods(&cluster.client, &namespace, "app=web").await?;
        let ready = current
            .iter()
            .filter(|pod| controllers_support::is_ready(pod))
            .count();
        assert!(ready >= 3, "only {ready} ready pods during the rollout");
        assert!(
            current.len() <= 4,
            "{} pods exceed replicas + maxSurge",
            current.len()
        );
        if let Some(pod) = current
            .iter()
            .find(|pod| !controllers_support::is_ready(pod))
        {
            controllers_support::mark_ready(&cluster.client, pod).await?;
        }
        if is_rolled_out(&api, "web").await? {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let all = replicasets(&cluster.client, &namespace).await?;
    let new = all
        .iter()
        .find(|rs| image_of(rs).as_deref() == Some("img:2"))
        .expect("new replica set");
    assert_eq!(size_of(new), 3);
    assert_eq!(
        new.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("2")
    );

    // kubectl agrees the rollout finished and the Deployment is Available.
    let kubectl = cluster.kubectl()?;
    kubectl
        .run(&[
            "-n",
            &namespace,
            "rollout",
            "status",
            "deploy/web",
            "--timeout=60s",
        ])?
        .ok()?;
    kubectl
        .run(&[
            "-n",
            &namespace,
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=60s",
        ])?
        .ok()?;
    let deployed = api.get("web").await?;
    let conditions = deployed
        .status
        .unwrap_or_default()
        .conditions
        .unwrap_or_default();
    let progressing = conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .expect("Progressing condition");
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );

    // Rolling back restores the first template as revision 3.
    kubectl
        .run(&["-n", &namespace, "rollout", "undo", "deploy/web"])?
        .ok()?;
    ready_pods_until(&cluster.client, &namespace, "app=web", || async {
        let current = api.get("web").await?;
        let image = current
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|s| s.containers[0].image.clone());
        Ok(image == Some(Some("img:1".to_string())) && is_rolled_out(&api, "web").await?)
    })
    .await?;
    let all = replicasets(&cluster.client, &namespace).await?;
    let restored = all
        .iter()
        .find(|rs| rs.name_any() == first[0].name_any())
        .expect("first replica set");
    assert_eq!(size_of(restored), 3);
    assert_eq!(
        restored
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("3")
    );
    let history = kubectl
        .run(&["-n", &namespace, "rollout", "history", "deploy/web"])?
        .ok()?;
    assert!(
        history.contains('2') && history.contains('3'),
        "history: {history}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_recreate_and_pause() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("deploy-recreate").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    let mut web = deployment("web", 2, "img:1")?;
    web.spec.as_mut().unwrap().strategy =
        Some(serde_json::from_value(json!({"type": "Recreate"}))?);
    api.create(&PostParams::default(), &web).await?;
    ready_pods_until(&cluster.client, &namespace, "app=web", || {
        is_rolled_out(&api, "web")
    })
    .await?;

    // Paused: a template change creates no ReplicaSet.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": true}})),
    )
    .await?;
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}});
    let changed = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let generation = changed.metadata.generation;
    wait_for("the paused change observed", || async {
        let current = api.get("web").await?;
        Ok((current.status.and_then(|s| s.observed_generation) == generation).then_some(()))
    })
    .await?;
    assert_eq!(
        replicasets(&cluster.client, &namespace).await?.len(),
        1,
        "a paused deployment rolled out"
    );

    // Resumed with Recreate: old pods go before new ones appear.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": false}})),
    )
    .await?;
    let deadline = std::time::Instant::now() + controllers_support::TIMEOUT;
    loop {
        let current = pods(&cluster.client, &namespace, "app=web").await?;
        let hashes: std::collections::BTreeSet<String> = current
            .iter()
            .filter_map(|pod| pod.labels().get("pod-template-hash").cloned())
            .collect();
        assert!(
            hashes.len() <= 1,
            "old and new pods ran together: {hashes:?}"
        );
        for pod in current
            .iter()
            .filter(|pod| !controllers_support::is_ready(pod))
        {
            controllers_support::mark_ready(&cluster.client, pod).await?;
        }
        if is_rolled_out(&api, "web").await?
            && replicasets(&cluster.client, &namespace).await?.len() == 2
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Recreate rollout did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
