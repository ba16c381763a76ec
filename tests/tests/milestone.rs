//! The main job end to end: the example manifests applied with the real
//! kubectl to a `skiff server` become runc containers that answer HTTP on
//! their pod IPs, scale, roll to a new image without losing availability,
//! roll back, and leave nothing behind when deleted.

mod e2e_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use e2e_support::{http_get, pods, wait_for};
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

/// Returns a Deployment whose pods serve `/image.txt`: `httpd` when the image has
/// the httpd test image's `/www/index.html`, else `busybox`.
fn rolling_manifest(image: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: roll
spec:
  replicas: {ROLL_REPLICAS}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: {ROLL_MAX_UNAVAILABLE}
      maxSurge: 1
  selector:
    matchLabels:
      app: roll
  template:
    metadata:
      labels:
        app: roll
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: {image}
          command: ["/bin/sh", "-c"]
          args:
            - |
              mkdir -p /srv/www
              if [ -f /www/index.html ]; then echo httpd; else echo busybox; fi > /srv/www/image.txt
              exec httpd -f -p 8080 -h /srv/www
          readinessProbe:
            httpGet:
              path: /image.txt
              port: 8080
            periodSeconds: 1
"#
    )
}

const ROLL_REPLICAS: i64 = 3;
const ROLL_MAX_UNAVAILABLE: i64 = 1;

/// What a watcher saw while a rollout ran.
#[derive(Debug, Default)]
struct RolloutObservations {
    samples: usize,
    min_available: Option<i64>,
    max_replicas: i64,
    /// Rounds in which no Ready pod responded to HTTP, with the pods tried.
    unanswered: Vec<String>,
}

/// Polls the Deployment's status and the Ready pods' HTTP until `stop` is set.
fn observe_rollout(kubectl: &Kubectl, stop: &AtomicBool) -> RolloutObservations {
    let mut seen = RolloutObservations::default();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(Ok(text)) = kubectl
            .run(&["get", "deployment", "roll", "-o", "json"])
            .map(|output| output.ok())
        {
            let deployment: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let status = &deployment["status"];
            let available = status["availableReplicas"].as_i64().unwrap_or(0);
            seen.min_available = Some(seen.min_available.map_or(available, |m| m.min(available)));
            seen.max_replicas = seen
                .max_replicas
                .max(status["replicas"].as_i64().unwrap_or(0));
            seen.samples += 1;
        }
        if let Ok(ready) = pods(kubectl, "app=roll") {
            let ready: Vec<_> = ready.into_iter().filter(|pod| pod.ready).collect();
            let answered = ready
                .iter()
                .any(|pod| http_get(&pod.ip, 8080, "/image.txt").is_ok());
            if !answered {
                seen.unanswered.push(format!("{ready:?}"));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    seen
}

/// Returns the image every `app=roll` pod reports over HTTP, once they all agree.
fn served_images(kubectl: &Kubectl) -> anyhow::Result<Vec<String>> {
    let mut served = Vec::new();
    for pod in pods(kubectl, "app=roll")? {
        let body = http_get(&pod.ip, 8080, "/image.txt")
            .with_context(|| format!("pod {} at {} does not answer", pod.name, pod.ip))?;
        served.push(body.trim().to_string());
    }
    Ok(served)
}

/// Runs `kubectl rollout status` for the `roll` Deployment.
fn wait_rolled_out(cluster: &Cluster, kubectl: &Kubectl) -> anyhow::Result<()> {
    let status = kubectl
        .run(&["rollout", "status", "deployment/roll", "--timeout=240s"])?
        .ok()
        .with_context(|| format!("rollout failed; server log:\n{}", cluster.log()))?;
    assert!(status.contains("successfully rolled out"), "{status}");
    Ok(())
}

/// Waits until exactly the rolled-out pods remain and all serve `image`.
fn wait_all_serve(cluster: &Cluster, kubectl: &Kubectl, image: &str) -> anyhow::Result<()> {
    wait_for(
        &format!("{ROLL_REPLICAS} pods serving {image}"),
        Duration::from_secs(120),
        || {
            let served = served_images(kubectl)?;
            Ok(served.len() == ROLL_REPLICAS as usize
                && served.iter().all(|served| served == image)
                && cluster.running_containers()?.len() == ROLL_REPLICAS as usize)
        },
    )
}

#[test]
fn set_image_rolls_and_undo_restores() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?;
    let httpd = images::push_httpd(&registry)?;
    let cluster = Cluster::start()?;
    let kubectl = cluster.kubectl("1.33")?;
    let manifest = kubectl.dir().join("roll.yaml");
    std::fs::write(&manifest, rolling_manifest(&busybox.reference))?;
    let manifest = manifest.to_str().context("manifest path is UTF-8")?;
    kubectl.run(&["apply", "-f", manifest])?.ok()?;
    wait_rolled_out(&cluster, &kubectl)?;
    wait_all_serve(&cluster, &kubectl, "busybox")?;

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let kubectl = cluster.kubectl("1.33")?;
        std::thread::spawn(move || observe_rollout(&kubectl, &stop))
    };
    let set = kubectl
        .run(&[
            "set",
            "image",
            "deployment/roll",
            &format!("web={}", httpd.reference),
        ])?
        .ok()?;
    assert_eq!(set.trim(), "deployment.apps/roll image updated");
    let rolled = wait_rolled_out(&cluster, &kubectl);
    stop.store(true, Ordering::Relaxed);
    let seen = watcher
        .join()
        .map_err(|_| anyhow::anyhow!("the rollout watcher panicked"))?;
    rolled?;
    assert!(seen.samples > 0, "the watcher never read the Deployment");
    let min_available = seen.min_available.unwrap_or(0);
    assert!(
        min_available >= ROLL_REPLICAS - ROLL_MAX_UNAVAILABLE,
        "availableReplicas fell to {min_available}: {seen:?}"
    );
    assert!(
        seen.max_replicas <= ROLL_REPLICAS + 1,
        "more pods than maxSurge allows: {seen:?}"
    );
    assert!(
        seen.unanswered.is_empty(),
        "no Ready pod answered HTTP during the rollout: {:?}",
        seen.unanswered
    );
    wait_all_serve(&cluster, &kubectl, "httpd")?;
    let images: Vec<String> = pods(&kubectl, "app=roll")?
        .into_iter()
        .map(|pod| pod.image)
        .collect();
    assert!(
        images.iter().all(|image| image == &httpd.reference),
        "{images:?}"
    );

    let undone = kubectl.run(&["rollout", "undo", "deployment/roll"])?.ok()?;
    assert_eq!(undone.trim(), "deployment.apps/roll rolled back");
    wait_rolled_out(&cluster, &kubectl)?;
    wait_all_serve(&cluster, &kubectl, "busybox")?;
    let images: Vec<String> = pods(&kubectl, "app=roll")?
        .into_iter()
        .map(|pod| pod.image)
        .collect();
    assert!(
        images.iter().all(|image| image == &busybox.reference),
        "{images:?}"
    );

    kubectl.run(&["delete", "-f", manifest])?.ok()?;
    wait_for(
        "the node to release every roll pod",
        Duration::from_secs(120),
        || {
            let left = kubectl
                .run(&["get", "pods", "-l", "app=roll", "-o", "name"])?
                .ok()?;
            Ok(left.trim().is_empty()
                && cluster.running_containers()?.is_empty()
                && cluster.network_namespaces().is_empty())
        },
    )?;
    Ok(())
}
