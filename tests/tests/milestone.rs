//! The main job end to end: the example manifests applied with the real
//! kubectl to a `skiff server` become runc containers that answer HTTP on
//! their pod IPs, scale, and leave nothing behind when deleted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use skiff_e2e::cluster::Cluster;
use skiff_e2e::images;
use skiff_e2e::kubectl::Kubectl;
use skiff_e2e::registry::Registry;

/// The image reference the example manifest names.
const EXAMPLE_IMAGE: &str = "127.0.0.1:5000/skiff-examples/web:1";

/// Writes manifests/web.yaml with its image pointed at the test registry.
fn example_manifest(dir: &Path, image: &str) -> anyhow::Result<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/web.yaml");
    let text = std::fs::read_to_string(&source)?;
    assert!(
        text.contains(EXAMPLE_IMAGE),
        "the example names {EXAMPLE_IMAGE}"
    );
    let path = dir.join("web.yaml");
    std::fs::write(&path, text.replace(EXAMPLE_IMAGE, image))?;
    Ok(path)
}

/// Sends `GET path` to `ip:port` and returns the response body.
fn http_get(ip: &str, port: u16, path: &str) -> anyhow::Result<String> {
    let mut stream =
        TcpStream::connect_timeout(&format!("{ip}:{port}").parse()?, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("HTTP response without a header end")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path} from {ip}: {head}");
    }
    Ok(body.to_string())
}

/// Polls `check` every 500 ms until it returns true or `timeout` passes.
fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    while Instant::now() < deadline {
        match check() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => last_error = Some(error),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!("timed out waiting for {what}; last error: {last_error:?}")
}

/// Returns (name, podIP) of every pod labelled app=web.
fn web_pods(kubectl: &Kubectl) -> anyhow::Result<Vec<(String, String)>> {
    let output = kubectl
        .run(&["get", "pods", "-l", "app=web", "-o", "json"])?
        .ok()?;
    let list: serde_json::Value = serde_json::from_str(&output)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(|pod| {
            (
                pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pod["status"]["podIP"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect())
}

fn scale_and_count(cluster: &Cluster, kubectl: &Kubectl, replicas: usize) -> anyhow::Result<()> {
    let count = replicas.to_string();
    let scaled = kubectl
        .run(&["scale", "deployment/web", "--replicas", &count])?
        .ok()?;
    assert_eq!(scaled.trim(), "deployment.apps/web scaled");
    kubectl
        .run(&["rollout", "status", "deployment/web", "--timeout=240s"])?
        .ok()?;
    wait_for(
        &format!("{replicas} running runc containers"),
        Duration::from_secs(120),
        || Ok(cluster.running_containers()?.len() == replicas),
    )
}

#[test]
fn example_deployment_serves_http_and_cleans_up() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?;
    let cluster = Cluster::start()?;
    let kubectl = cluster.kubectl("1.33")?;
    let manifest = example_manifest(kubectl.dir(), &image.reference)?;
    let manifest = manifest.to_str().context("manifest path is UTF-8")?;

    let applied = kubectl.run(&["apply", "-f", manifest])?.ok()?;
    assert!(
        applied.contains("configmap/web-content created"),
        "{applied}"
    );
    assert!(applied.contains("secret/web-token created"), "{applied}");
    assert!(applied.contains("deployment.apps/web created"), "{applied}");

    let rollout = kubectl
        .run(&["rollout", "status", "deployment/web", "--timeout=240s"])
        .and_then(|output| output.ok())
        .with_context(|| format!("rollout failed; server log:\n{}", cluster.log()))?;
    assert!(rollout.contains("successfully rolled out"), "{rollout}");

    let pods = web_pods(&kubectl)?;
    assert_eq!(pods.len(), 3, "pods: {pods:?}");
    for (name, ip) in &pods {
        assert!(!ip.is_empty(), "pod {name} has no IP");
        let body = http_get(ip, 8080, "/info.txt")
            .with_context(|| format!("pod {name} at {ip} does not answer"))?;
        assert!(body.contains("greeting=Hello from skiff"), "{body}");
        assert!(body.contains("token-length=12"), "{body}");
        assert!(body.contains(&format!("pod={name}")), "{body}");
    }

    let (first, _) = &pods[0];
    let greeting = kubectl
        .run(&["exec", first, "--", "cat", "/etc/web/greeting"])?
        .ok()?;
    assert_eq!(greeting, "Hello from skiff");
    let token = kubectl
        .run(&["exec", first, "--", "sh", "-c", "echo $API_TOKEN"])?
        .ok()?;
    assert_eq!(token.trim(), "s3cr3t-token");
    let logs = kubectl.run(&["logs", first])?.ok()?;
    assert!(logs.contains("greeting=Hello from skiff"), "{logs}");

    assert_eq!(cluster.running_containers()?.len(), 3);
    scale_and_count(&cluster, &kubectl, 5)?;
    scale_and_count(&cluster, &kubectl, 2)?;

    let deleted = kubectl.run(&["delete", "-f", manifest])?.ok()?;
    assert!(
        deleted.contains("deployment.apps \"web\" deleted"),
        "{deleted}"
    );
    wait_for("every web pod to go", Duration::from_secs(120), || {
        Ok(web_pods(&kubectl)?.is_empty())
    })?;
    wait_for(
        "the node to release everything",
        Duration::from_secs(60),
        || {
            Ok(cluster.running_containers()?.is_empty()
                && cluster.network_namespaces().is_empty()
                && cluster.container_mounts().is_empty())
        },
    )?;
    Ok(())
}
