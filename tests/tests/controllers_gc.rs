//! Garbage collection and namespace deletion against a real apiserver:
//! background, foreground and orphan propagation, and `kubectl delete`.

mod controllers_support;

use controllers_support::{Cluster, controller_uid, deployment, pods, replicaset, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};

async fn replicaset_count(api: &Api<ReplicaSet>) -> anyhow::Result<usize> {
    Ok(api.list(&ListParams::default()).await?.items.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_delete_deployment_leaves_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("gc-background").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    api.create(&PostParams::default(), &deployment("web", 2, "img:1")?)
        .await?;
    let replicasets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    wait_for("two pods", || async {
        Ok((pods(&cluster.client, &namespace, "app=web").await?.len() == 2).then_some(()))
    })
    .await?;

    let kubectl = cluster.kubectl()?;
    kubectl
        .run(&["-n", &namespace, "delete", "deploy", "web"])?
        .ok()?;
    wait_for("replica sets and pods gone", || async {
        let left_pods = pods(&cluster.client, &namespace, "app=web").await?.len();
        let left_sets = replicaset_count(&replicasets).await?;
        Ok((left_pods == 0 && left_sets == 0).then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn foreground_deletion_waits_for_dependents() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("gc-foreground").await?;
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    api.create(&PostParams::default(), &replicaset("web", 2)?)
        .await?;
    wait_for("two pods", || async {
        Ok((pods(&cluster.client, &namespace, "app=web").await?.len() == 2).then_some(()))
    })
    .await?;

    let deleting = api.delete("web", &DeleteParams::foreground()).await?;
    let owner = deleting
        .left()
        .expect("a foreground delete keeps the owner for now");
    assert!(owner.finalizers().iter().any(|f| f == "foregroundDeletion"));
    wait_for("the owner gone after its pods", || async {
        let left = pods(&cluster.client, &namespace, "app=web").await?.len();
        let owner = api.get_opt("web").await?;
        if owner.is_none() {
            anyhow::ensure!(left == 0, "the owner went away while {left} pods remained");
            return Ok(Some(()));
        }
        Ok(None)
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_deletion_keeps_dependents() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("gc-orphan").await?;
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    api.create(&PostParams::default(), &replicaset("web", 2)?)
        .await?;
    wait_for("two owned pods", || async {
        let found = pods(&cluster.client, &namespace, "app=web").await?;
        Ok(
            (found.len() == 2 && found.iter().all(|pod| controller_uid(pod).is_some()))
                .then_some(()),
        )
    })
    .await?;

    api.delete("web", &DeleteParams::orphan()).await?;
    wait_for("the owner gone", || async {
        Ok(api.get_opt("web").await?.is_none().then_some(()))
    })
    .await?;
    let left = pods(&cluster.client, &namespace, "app=web").await?;
    assert_eq!(left.len(), 2, "orphaned pods were deleted");
    for pod in &left {
        assert!(
            pod.owner_references().is_empty(),
            "pod {} still has owners",
            pod.name_any()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_deletion_empties_it() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("gc-namespace").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    api.create(&PostParams::default(), &deployment("web", 2, "img:1")?)
        .await?;
    let bare: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);
    bare.create(
        &PostParams::default(),
        &controllers_support::pod("loner", &[("app", "loner")])?,
    )
    .await?;
    wait_for("two pods", || async {
        Ok((pods(&cluster.client, &namespace, "app=web").await?.len() == 2).then_some(()))
    })
    .await?;

    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    namespaces
        .delete(&namespace, &DeleteParams::default())
        .await?;
    wait_for("the namespace gone", || async {
        Ok(namespaces
            .get_opt(&namespace)
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    let everywhere: Api<Pod> = Api::all(cluster.client.clone());
    let left = everywhere.list(&ListParams::default()).await?;
    assert!(
        left.items
            .iter()
            .all(|pod| pod.namespace().as_deref() != Some(namespace.as_str())),
        "pods of the deleted namespace remain"
    );
    Ok(())
}
