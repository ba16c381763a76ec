//! The kubelet runs a pod created with kubectl: Running with a pod IP that
//! answers HTTP, then deletion removes it from the node.

use std::time::Duration;

use anyhow::Result;
use skiff_e2e::images::HTTPD_INDEX;
use skiff_e2e::node::TestNode;

#[tokio::test(flavor = "multi_thread")]
async fn httpd_pod_runs_answers_and_is_deleted() -> Result<()> {
    let node = TestNode::start("1.33").await?;
    node.apply(&format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {{app: web}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 5
  containers:
  - name: httpd
    image: {image}
    ports: [{{containerPort: 8080}}]
    readinessProbe:
      httpGet: {{path: /, port: 8080}}
      periodSeconds: 1
",
        node = node.node_name(),
        image = node.httpd
    ))?;
    let pod = node
        .wait_pod(
            "web",
            "pod web to be Ready",
            Duration::from_secs(120),
            |p| {
                p.status.as_ref().is_some_and(|s| {
                    s.phase.as_deref() == Some("Running")
                        && s.conditions
                            .iter()
                            .flatten()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            },
        )
        .await?;
    let status = pod.status.clone().unwrap_or_default();
    let ip = status.pod_ip.clone().expect("a running pod has an IP");
    let body = http_get(&ip, 8080).await?;
    assert_eq!(body, HTTPD_INDEX);
    let cs = &status.container_statuses.unwrap_or_default()[0];
    assert!(
        cs.ready && cs.container_id.is_some() && !cs.image_id.is_empty(),
        "{cs:?}"
    );
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    // The kubelet's events show in describe, from this node.
    let described = node.kubectl.run(&["describe", "pod", "web"])?.ok()?;
    for line in [
        "Created container: httpd",
        "Started container httpd",
        &format!("kubelet Pulling image \"{}\"", node.httpd),
    ] {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            described.lines().any(|l| l
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(words.len())
                .any(|w| w == words.as_slice())),
            "{line:?} missing from:\n{described}"
        );
    }
    assert!(status.host_ip.is_some() && status.start_time.is_some());

    let out = node
        .kubectl
        .run(&["delete", "pod", "web", "--wait=true", "--timeout=60s"])?;
    assert_eq!(out.code, 0, "{out:?}");
    node.wait(
        "pod web to be gone from the node",
        Duration::from_secs(60),
        || async {
            let uid = pod.metadata.uid.clone()?;
            let dir = node.kubelet.root_dir.join("pods").join(uid);
            (!dir.exists() && http_get(&ip, 8080).await.is_err()).then_some(())
        },
    )
    .await?;
    Ok(())
}

async fn http_get(ip: &str, port: u16) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let connect = tokio::net::TcpStream::connect((ip, port));
    let mut stream = tokio::time::timeout(Duration::from_secs(5), connect).await??;
    stream
        .write_all(format!("GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await??;
    let (_, body) = response.split_once("\r\n\r\n").unwrap_or(("", ""));
    Ok(body.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_evicts_pods_and_cordons_the_node() -> Result<()> {
    let node = TestNode::start("1.33").await?;
    node.apply(&format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: drained}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 5
  containers:
  - {{name: main, image: {image}, command: [sleep, '3600']}}
",
        node = node.node_name(),
        image = node.busybox
    ))?;
    node.wait_pod("drained", "the pod to run", Duration::from_secs(120), |p| {
        skiff_e2e::node::container_state(p, "main").as_deref() == Some("running")
    })
    .await?;

    // kubectl's typed client deletes with a protobuf DeleteOptions body.
    let out = node
        .kubectl
        .run(&["drain", node.node_name(), "--force", "--timeout=90s"])?;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("pod/drained deleted"), "{out:?}");
    assert!(out.stdout.contains("drained"), "{out:?}");
    let pods = node.kubectl.run(&["get", "pods", "-o", "name"])?.ok()?;
    assert_eq!(pods.trim(), "");
    let unschedulable = node
        .kubectl
        .run(&[
            "get",
            "node",
            node.node_name(),
            "-o",
            "jsonpath={.spec.unschedulable}",
        ])?
        .ok()?;
    assert_eq!(unschedulable, "true");
    node.kubectl.run(&["uncordon", node.node_name()])?.ok()?;
    Ok(())
}
