//! Failure conditions of the workload controllers against a real apiserver.
//! A Deployment whose pods never become ready passes its progress deadline.
//! A ReplicaSet whose pods the apiserver rejects reports ReplicaFailure until
//! the cause is fixed. Ready pods count as available only after
//! minReadySeconds.

mod controllers_support;

use controllers_support::{Cluster, deployment, pods, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, ServiceAccount};
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// Returns `(status, reason, message)` of the named condition of a Deployment.
fn deployment_condition(deployment: &Deployment, kind: &str) -> Option<(String, String, String)> {
    deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == kind)
        .map(|condition| {
            (
                condition.status.clone(),
                condition.reason.clone().unwrap_or_default(),
                condition.message.clone().unwrap_or_default(),
            )
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_passes_its_progress_deadline() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("deploy-deadline").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    let mut slow = deployment("slow", 2, "img:1")?;
    slow.spec.as_mut().unwrap().progress_deadline_seconds = Some(3);
    api.create(&PostParams::default(), &slow).await?;

    // No kubelet marks the pods ready, so the rollout cannot progress.
    let (status, reason, message) =
        wait_for("ProgressDeadlineExceeded", || async {
            let current = api.get("slow").await?;
            Ok(deployment_condition(&current, "Progressing")
                .filter(|(status, _, _)| status == "False"))
        })
        .await?;
    assert_eq!(status, "False");
    assert_eq!(reason, "ProgressDeadlineExceeded");
    assert!(
        message.contains("has timed out progressing"),
        "message: {message}"
    );
    let available = deployment_condition(&api.get("slow").await?, "Available");
    assert_eq!(
        available.map(|(status, reason, _)| (status, reason)),
        Some((
            "False".to_string(),
            "MinimumReplicasUnavailable".to_string()
        ))
    );

    // kubectl reads the same condition and fails with Kubernetes' message.
    let kubectl = cluster.kubectl()?;
    let output = kubectl.run(&[
        "-n",
        &namespace,
        "rollout",
        "status",
        "deploy/slow",
        "--timeout=60s",
    ])?;
    assert_ne!(output.code, 0, "rollout status succeeded: {output:?}");
    assert!(
        output.stderr.contains("exceeded its progress deadline"),
        "stderr: {}",
        output.stderr
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_failure_is_reported_and_cleared() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("rs-failure").await?;
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &namespace);
    let mut web = deployment("web", 2, "img:1")?;
    let pod_spec = web
        .spec
        .as_mut()
        .and_then(|spec| spec.template.spec.as_mut())
        .expect("the helper builds a pod template");
    pod_spec.service_account_name = Some("builder".to_string());
    deployments.create(&PostParams::default(), &web).await?;

    // The apiserver refuses pods naming a missing ServiceAccount, so the
    // ReplicaSet reports the failure and the Deployment repeats it.
    let replicasets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    let failure = wait_for("ReplicaFailure on the ReplicaSet", || async {
        let list = replicasets.list(&ListParams::default()).await?;
        Ok(list.items.iter().find_map(|replicaset| {
            replicaset
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|condition| condition.type_ == "ReplicaFailure")
                .cloned()
        }))
    })
    .await?;
    assert_eq!(failure.status, "True");
    assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
    let message = failure.message.unwrap_or_default();
    assert!(
        message.starts_with("Error creating: pods \"web-")
            && message.contains(&format!(
                "is forbidden: error looking up service account {namespace}/builder: serviceaccount \"builder\" not found"
            )),
        "message: {message}"
    );
    let (status, reason, _) = wait_for("ReplicaFailure on the Deployment", || async {
        Ok(deployment_condition(
            &deployments.get("web").await?,
            "ReplicaFailure",
        ))
    })
    .await?;
    assert_eq!((status.as_str(), reason.as_str()), ("True", "FailedCreate"));
    assert!(
        pods(&cluster.client, &namespace, "app=web")
            .await?
            .is_empty()
    );
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &namespace);
    let failed_create = wait_for("a FailedCreate event", || async {
        let list = events.list(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .find(|event| event.reason.as_deref() == Some("FailedCreate")))
    })
    .await?;
    assert_eq!(failed_create.type_.as_deref(), Some("Warning"));

    // Creating the account lets the pods through and clears the condition.
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "builder"}}))?;
    Api::<ServiceAccount>::namespaced(cluster.client.clone(), &namespace)
        .create(&PostParams::default(), &account)
        .await?;
    wait_for("two pods and no ReplicaFailure", || async {
        let created = pods(&cluster.client, &namespace, "app=web").await?;
        let current = deployments.get("web").await?;
        let list = replicasets.list(&ListParams::default()).await?;
        let cleared = list.items.iter().all(|replicaset| {
            replicaset
                .status
                .as_ref()
                .and_then(|status| status.conditions.as_ref())
                .is_none_or(|conditions| conditions.iter().all(|c| c.type_ != "ReplicaFailure"))
        });
        Ok((created.len() == 2
            && cleared
            && deployment_condition(&current, "ReplicaFailure").is_none())
        .then_some(()))
    })
    .await?;
    let names: Vec<String> = pods(&cluster.client, &namespace, "app=web")
        .await?
        .iter()
        .map(|pod| pod.name_any())
        .collect();
    assert_eq!(names.len(), 2, "pods: {names:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_become_available_after_min_ready_seconds() -> anyhow::Result<()> {
    let cluster = Cluster::start(Default::default()).await?;
    let namespace = cluster.namespace("rs-min-ready").await?;
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &namespace);
    let mut web = controllers_support::replicaset("web", 2)?;
    web.spec.as_mut().unwrap().min_ready_seconds = Some(4);
    api.create(&PostParams::default(), &web).await?;
    let created = wait_for("two pods", || async {
        let found = pods(&cluster.client, &namespace, "app=web").await?;
        Ok((found.len() == 2).then_some(found))
    })
    .await?;
    let marked = std::time::Instant::now();
    for pod in &created {
        controllers_support::mark_ready(&cluster.client, pod).await?;
    }

    // Ready at once, available only once they stayed ready minReadySeconds,
    // with no other change to wake the controller.
    wait_for("two ready replicas", || async {
        let status = api.get("web").await?.status.unwrap_or_default();
        Ok((status.ready_replicas == Some(2)).then_some(()))
    })
    .await?;
    let status = api.get("web").await?.status.unwrap_or_default();
    if marked.elapsed() < std::time::Duration::from_secs(3) {
        assert_eq!(status.available_replicas.unwrap_or(0), 0, "{status:?}");
    }
    wait_for("two available replicas", || async {
        let status = api.get("web").await?.status.unwrap_or_default();
        Ok((status.available_replicas == Some(2)).then_some(()))
    })
    .await?;
    assert!(marked.elapsed() >= std::time::Duration::from_secs(4));
    Ok(())
}
