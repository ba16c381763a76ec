//! Restart policies and back-off: CrashLoopBackOff, liveness restarts,
//! OnFailure and Never, and image pull failures.

use std::time::Duration;

use anyhow::Result;
use skiff_e2e::node::{TestNode, container_state};

fn pod(name: &str, node: &str, image: &str, policy: &str, script: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  restartPolicy: {policy}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: {image}
    command: [sh, -c, "{script}"]
{extra}"#
    )
}

fn restarts(p: &k8s_openapi::api::core::v1::Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .map_or(0, |c| c.restart_count)
}

fn phase(p: &k8s_openapi::api::core::v1::Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_policies_back_off_and_pull_errors() -> Result<()> {
    let node = TestNode::start("1.33").await?;
    let n = node.node_name().to_string();
    let img = node.busybox.clone();
    node.apply(&pod(
        "crash",
        &n,
        &img,
        "Always",
        "echo crashing; exit 1",
        "",
    ))?;
    node.apply(&pod("never", &n, &img, "Never", "exit 2", ""))?;
    node.apply(&pod("done", &n, &img, "OnFailure", "exit 0", ""))?;
    let probe = "    livenessProbe: {exec: {command: [\"false\"]}, periodSeconds: 1, failureThreshold: 1}\n";
    node.apply(&pod(
        "unhealthy",
        &n,
        &img,
        "Always",
        "exec sleep 100000",
        probe,
    ))?;
    let missing = format!("{}/skiff-test/missing:1", node.registry.host());
    node.apply(&pod("missing", &n, &missing, "Always", "true", ""))?;

    let long = Duration::from_secs(120);
    // ErrImagePull shows until the next sync turns it into ImagePullBackOff;
    // polling can miss that first state, but the kubelet's events keep it.
    node.wait_pod("missing", "ErrImagePull", long, |p| {
        matches!(
            container_state(p, "c").as_deref(),
            Some("ErrImagePull" | "ImagePullBackOff")
        )
    })
    .await?;
    let pulled = wait_events(&node, "missing", &["Pulling", "Failed", "BackOff"]).await?;
    let messages: Vec<&str> = pulled
        .iter()
        .map(|(_, message, _)| message.as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("Failed to pull image \"{missing}\": "))),
        "{messages:?}"
    );
    assert!(messages.contains(&"Error: ErrImagePull"), "{messages:?}");
    assert!(
        messages.contains(&format!("Back-off pulling image \"{missing}\"").as_str()),
        "{messages:?}"
    );
    assert!(
        pulled
            .iter()
            .all(|(_, _, path)| path == "spec.containers{c}"),
        "{pulled:?}"
    );
    node.wait_pod("never", "pod never to fail", long, |p| phase(p) == "Failed")
        .await?;
    node.wait_pod("done", "pod done to succeed", long, |p| {
        phase(p) == "Succeeded"
    })
    .await?;
    node.wait_pod("missing", "ImagePullBackOff", long, |p| {
        container_state(p, "c").as_deref() == Some("ImagePullBackOff")
    })
    .await?;
    let crash = node
        .wait_pod("crash", "CrashLoopBackOff after two restarts", long, |p| {
            container_state(p, "c").as_deref() == Some("CrashLoopBackOff") && restarts(p) >= 2
        })
        .await?;
    let message = crash
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.state)
        .and_then(|s| s.waiting)
        .and_then(|w| w.message)
        .unwrap_or_default();
    assert!(
        message.starts_with("back-off 20s restarting failed container=c pod=crash_default("),
        "{message}"
    );
    let previous = node.kubectl.run(&["logs", "crash", "--previous"])?.ok()?;
    assert_eq!(previous, "crashing\n");
    let backoff = wait_events(&node, "crash", &["Created", "Started", "BackOff"]).await?;
    assert!(
        backoff
            .iter()
            .any(|(reason, message, _)| reason == "BackOff"
                && message
                    .starts_with("Back-off restarting failed container c in pod crash_default(")),
        "{backoff:?}"
    );
    node.wait_pod("unhealthy", "liveness restarts", long, |p| restarts(p) >= 1)
        .await?;
    let probed = wait_events(&node, "unhealthy", &["Unhealthy", "Killing"]).await?;
    assert!(
        probed.iter().any(
            |(_, message, _)| message == "Container c failed liveness probe, will be restarted"
        ),
        "{probed:?}"
    );
    Ok(())
}

/// Waits until the pod's events include every reason in `reasons` and
/// returns `(reason, message, fieldPath)` of the kubelet's events about it.
async fn wait_events(
    node: &TestNode,
    pod: &str,
    reasons: &[&str],
) -> Result<Vec<(String, String, String)>> {
    let api: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(node.client.clone(), "default");
    let selector = format!("involvedObject.name={pod}");
    node.wait(
        &format!("events {reasons:?} about {pod}"),
        Duration::from_secs(120),
        || {
            let api = api.clone();
            let selector = selector.clone();
            async move {
                let list = api
                    .list(&kube::api::ListParams::default().fields(&selector))
                    .await
                    .ok()?;
                let events: Vec<(String, String, String)> = list
                    .items
                    .into_iter()
                    .filter(|event| {
                        event.source.as_ref().and_then(|s| s.component.as_deref())
                            == Some("kubelet")
                    })
                    .map(|event| {
                        (
                            event.reason.unwrap_or_default(),
                            event.message.unwrap_or_default(),
                            event.involved_object.field_path.unwrap_or_default(),
                        )
                    })
                    .collect();
                reasons
                    .iter()
                    .all(|reason| events.iter().any(|(r, _, _)| r == reason))
                    .then_some(events)
            }
        },
    )
    .await
}
