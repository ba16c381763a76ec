//! Restarting `skiff server` while pods run: the containers keep running
//! with the same runc ids and PIDs, their status keeps being served, the
//! components stop in order, and the kubelet afterwards still restarts a
//! container whose process was killed. With `--stop-pods-on-exit` the pods
//! stop with the server.

mod e2e_support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use e2e_support::{PodView, http_get, pods, runc_pid, wait_for};
use skiff_e2e::cluster::Cluster;
use skiff_e2e::images;
use skiff_e2e::kubectl::Kubectl;
use skiff_e2e::registry::Registry;

const REPLICAS: usize = 2;

fn manifest(image: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: keep
spec:
  replicas: {REPLICAS}
  selector:
    matchLabels:
      app: keep
  template:
    metadata:
      labels:
        app: keep
    spec:
      containers:
        - name: web
          image: {image}
          command: ["/bin/sh", "-c"]
          args:
            - |
              mkdir -p /srv/www
              echo up > /srv/www/health
              exec httpd -f -p 8080 -h /srv/www
          readinessProbe:
            httpGet:
              path: /health
              port: 8080
            periodSeconds: 1
"#
    )
}

/// Returns the Ready `app=keep` pods once there are exactly `REPLICAS` of them.
fn ready_pods(kubectl: &Kubectl) -> anyhow::Result<Vec<PodView>> {
    let mut ready = Vec::new();
    wait_for(
        &format!("{REPLICAS} Ready pods"),
        Duration::from_secs(180),
        || {
            ready = pods(kubectl, "app=keep")?;
            Ok(ready.len() == REPLICAS
                && ready
                    .iter()
                    .all(|pod| pod.ready && !pod.container_id.is_empty()))
        },
    )?;
    Ok(ready)
}

/// Maps each pod's container id to the PID runc reports for it.
fn container_pids(cluster: &Cluster, pods: &[PodView]) -> anyhow::Result<BTreeMap<String, i64>> {
    pods.iter()
        .map(|pod| {
            Ok((
                pod.container_id.clone(),
                runc_pid(cluster, &pod.container_id)?,
            ))
        })
        .collect()
}

/// Returns the line index of the first log line containing every one of `parts`.
fn log_line(log: &str, parts: &[&str]) -> Option<usize> {
    log.lines()
        .position(|line| parts.iter().all(|part| line.contains(part)))
}

#[test]
fn restart_keeps_containers_and_heals() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?;
    let mut cluster = Cluster::start()?;
    let kubectl = cluster.kubectl("1.33")?;
    let path = kubectl.dir().join("keep.yaml");
    std::fs::write(&path, manifest(&image.reference))?;
    let path = path.to_str().context("manifest path is UTF-8")?;
    kubectl.run(&["apply", "-f", path])?.ok()?;
    let before = ready_pods(&kubectl)
        .with_context(|| format!("pods never became Ready; log:\n{}", cluster.log()))?;
    let pids_before = container_pids(&cluster, &before)?;
    let running_before = {
        let mut ids = cluster.running_containers()?;
        ids.sort();
        ids
    };

    cluster.restart()?;
    let log = cluster.log();
    let sigterm = log_line(&log, &["received SIGTERM"]).context("no SIGTERM in the log")?;
    let stopped = |component: &str| {
        let field = format!("component=\"{component}\"");
        log_line(&log, &["stopped", &field])
    };
    let kubelet = stopped("kubelet").context("the kubelet never logged its stop")?;
    let apiserver = stopped("apiserver").context("the apiserver never logged its stop")?;
    let shim = stopped("runtime-shim").context("the shim never logged its stop")?;
    assert!(sigterm < kubelet, "the kubelet stopped before SIGTERM");
    assert!(
        kubelet < apiserver,
        "the apiserver stopped before the kubelet:\n{log}"
    );
    assert!(
        apiserver < shim,
        "the shim stopped before the apiserver:\n{log}"
    );
    let complaints: Vec<&str> = log
        .lines()
        .skip(sigterm)
        .take(shim - sigterm)
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
        .collect();
    assert!(
        complaints.is_empty(),
        "warnings or errors while shutting down: {complaints:#?}"
    );

    let mut running_after = cluster.running_containers()?;
    running_after.sort();
    assert_eq!(running_after, running_before, "runc containers changed");
    let after = ready_pods(&kubectl)?;
    let pids_after = container_pids(&cluster, &after)?;
    assert_eq!(pids_after, pids_before, "container ids or PIDs changed");
    for pod in &after {
        assert_eq!(pod.restarts, 0, "pod {} restarted", pod.name);
        http_get(&pod.ip, 8080, "/health")
            .with_context(|| format!("pod {} does not answer after the restart", pod.name))?;
    }

    let victim = &after[0];
    let pid = pids_after[&victim.container_id];
    // SAFETY: kill() only sends a signal, to the container process this
    // test's server started.
    let killed = unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(killed, 0, "failed to kill PID {pid}");
    wait_for(
        "the killed container to restart and answer",
        Duration::from_secs(120),
        || {
            let current = pods(&kubectl, "app=keep")?;
            let Some(pod) = current.iter().find(|pod| pod.name == victim.name) else {
                return Ok(false);
            };
            Ok(pod.restarts >= 1 && pod.ready && http_get(&pod.ip, 8080, "/health").is_ok())
        },
    )
    .with_context(|| format!("log:\n{}", cluster.log()))?;

    cluster.restart_with_args(&["--stop-pods-on-exit"])?;
    assert_eq!(
        cluster.running_containers()?.len(),
        REPLICAS,
        "the containers survive a restart with --stop-pods-on-exit"
    );
    cluster.stop();
    assert_eq!(
        cluster.running_containers()?,
        Vec::<String>::new(),
        "containers left after a stop with --stop-pods-on-exit"
    );
    assert_eq!(cluster.network_namespaces(), Vec::<String>::new());
    Ok(())
}
