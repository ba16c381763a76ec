//! A second node: `skiff agent` joins a running `skiff server`, the
//! scheduler spreads a Deployment's pods over both nodes, every pod serves
//! HTTP on its IP, and logs and exec reach the pods on the agent's node.

mod e2e_support;

use std::time::Duration;

use anyhow::Context;
use e2e_support::{http_get, wait_for};
use skiff_e2e::agent::Agent;
use skiff_e2e::cluster::Cluster;
use skiff_e2e::images;
use skiff_e2e::kubectl::Kubectl;
use skiff_e2e::registry::Registry;

/// Returns (name, node, podIP, ready) of the pods labelled app=spread.
fn spread_pods(kubectl: &Kubectl) -> anyhow::Result<Vec<(String, String, String, bool)>> {
    let output = kubectl
        .run(&["get", "pods", "-l", "app=spread", "-o", "json"])?
        .ok()?;
    let list: serde_json::Value = serde_json::from_str(&output)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pod| {
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (
                pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pod["spec"]["nodeName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pod["status"]["podIP"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                ready,
            )
        })
        .collect())
}

#[test]
fn agent_joins_and_runs_its_share_of_pods() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let image = images::push_httpd(&registry)?;
    let cluster = Cluster::start()?;
    let kubectl = cluster.kubectl("1.33")?;
    let mut agent = Agent::start(&cluster.url(), &cluster.kubeconfig())?;
    wait_for(
        "the agent's node to be Ready",
        Duration::from_secs(120),
        || {
            let out = kubectl.run(&[
                "get",
                "node",
                &agent.node_name,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ])?;
            Ok(out.code == 0 && out.stdout.trim() == "True")
        },
    )
    .with_context(|| format!("agent log:\n{}", agent.log()))?;

    let manifest = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: spread}}
spec:
  replicas: 4
  selector: {{matchLabels: {{app: spread}}}}
  template:
    metadata: {{labels: {{app: spread}}}}
    spec:
      containers:
      - name: httpd
        image: {image}
        readinessProbe:
          httpGet: {{path: /index.html, port: 8080}}
          periodSeconds: 1
",
        image = image.reference
    );
    let path = kubectl.dir().join("spread.yaml");
    std::fs::write(&path, manifest)?;
    let path = path.to_string_lossy().into_owned();
    kubectl.run(&["apply", "-f", &path])?.ok()?;
    kubectl
        .run(&["rollout", "status", "deploy/spread", "--timeout=180s"])?
        .ok()
        .with_context(|| format!("agent log:\n{}", agent.log()))?;

    // Equal nodes get an equal share, and every pod serves HTTP on its IP.
    let pods = spread_pods(&kubectl)?;
    let on_agent = pods.iter().filter(|p| p.1 == agent.node_name).count();
    let on_server = pods.iter().filter(|p| p.1 == cluster.node_name).count();
    assert_eq!((on_server, on_agent), (2, 2), "{pods:?}");
    for (name, node, ip, ready) in &pods {
        assert!(ready, "{name} on {node} is not ready");
        let subnet = if node == &agent.node_name {
            agent.subnet.trim_end_matches("0/24")
        } else {
            ""
        };
        assert!(ip.starts_with(subnet), "{name} has {ip}, outside {subnet}");
        let answer = http_get(ip, 8080, "/index.html")?;
        assert_eq!(answer, images::HTTPD_INDEX, "{name}");
    }

    // Logs and exec reach a pod on the agent's node through its kubelet.
    let (remote, _, _, _) = pods
        .iter()
        .find(|p| p.1 == agent.node_name)
        .context("no pod on the agent")?;
    let hostname = kubectl
        .run(&["exec", remote, "--", "cat", "/etc/hostname"])?
        .ok()?;
    assert_eq!(hostname.trim(), remote);
    kubectl.run(&["logs", remote])?.ok()?;

    // Deleting the Deployment empties both nodes.
    kubectl
        .run(&["delete", "-f", &path, "--wait=true", "--timeout=120s"])?
        .ok()?;
    wait_for("the pods to be gone", Duration::from_secs(120), || {
        Ok(spread_pods(&kubectl)?.is_empty())
    })?;
    agent.stop();
    Ok(())
}
