//! The `skiff` verbs against a real `skiff server`: apply, get, scale,
//! rollout, logs, exec, run with a published port and a host directory,
//! ps, stop/start/rm, pull and images, and their errors in plain words.

mod e2e_support;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use e2e_support::{http_get, pods, skiff, skiff_ok, skiff_with_stdin, wait_for};
use skiff_e2e::cluster::Cluster;
use skiff_e2e::images::{self, PushedImage};
use skiff_e2e::kubectl::Kubectl;
use skiff_e2e::process::free_port;
use skiff_e2e::registry::{Registry, RegistryAuth};

/// Returns a Deployment whose container logs a greeting and serves `/id`.
fn deployment(image: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: vw
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: vw
  template:
    metadata:
      labels:
        app: vw
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: {image}
          command: ["/bin/sh", "-c"]
          args:
            - |
              mkdir -p /srv/www
              echo "vw-$(hostname)" > /srv/www/id
              echo "hello from vw"
              exec httpd -f -p 8080 -h /srv/www
          readinessProbe:
            httpGet:
              path: /id
              port: 8080
            periodSeconds: 1
"#
    )
}

/// A ConfigMap followed by a Deployment with a negative replica count.
const INVALID_MANIFEST: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
data:
  key: value
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: -1
  selector:
    matchLabels:
      app: broken
  template:
    metadata:
      labels:
        app: broken
    spec:
      containers:
        - name: web
          image: busybox
"#;

fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path.to_str().context("path is UTF-8")?.to_string())
}

#[test]
fn errors_without_server() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("missing-kubeconfig");
    let output = skiff(&missing, &["get", "pods"])?;
    assert_ne!(output.code, 0);
    assert!(
        output.stderr.contains("not found"),
        "missing kubeconfig: {}",
        output.stderr
    );
    assert!(
        output.stderr.contains(missing.to_str().unwrap_or_default()),
        "the message names the file: {}",
        output.stderr
    );

    let url = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, skiff_e2e::apiserver::kubeconfig(&url))?;
    let output = skiff(&kubeconfig, &["get", "pods"])?;
    assert_ne!(output.code, 0);
    assert!(
        output
            .stderr
            .contains(&format!("no apiserver responds at {url}")),
        "no server: {}",
        output.stderr
    );
    assert!(output.stderr.contains("skiff server"), "{}", output.stderr);

    let data_dir = dir.path().to_str().context("path is UTF-8")?;
    for args in [
        vec!["pull", "busybox", "--data-dir", data_dir],
        vec!["images", "--data-dir", data_dir],
    ] {
        let output = skiff(&kubeconfig, &args)?;
        assert_ne!(output.code, 0);
        assert!(
            output.stderr.contains("no node is running"),
            "{args:?}: {}",
            output.stderr
        );
    }
    Ok(())
}

#[test]
fn verbs_drive_a_cluster() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?;
    let httpd = images::push_httpd(&registry)?;
    let cluster = Cluster::start()?;
    let kubectl = cluster.kubectl("1.33")?;
    check_pull_and_images(&cluster, &registry, &busybox)?;
    check_pull_with_credentials(&cluster)?;
    check_invalid_manifest(&cluster, &kubectl)?;
    check_deployment_verbs(&cluster, &kubectl, &busybox, &httpd)?;
    check_run_verbs(&cluster, &kubectl, &busybox)?;
    check_missing_image(&cluster, &kubectl, &registry)?;
    wait_for(
        "the node to release every pod",
        Duration::from_secs(120),
        || {
            let left = kubectl.run(&["get", "pods", "-o", "name"])?.ok()?;
            Ok(left.trim().is_empty()
                && cluster.running_containers()?.is_empty()
                && cluster.network_namespaces().is_empty())
        },
    )?;
    Ok(())
}

fn check_pull_and_images(
    cluster: &Cluster,
    registry: &Registry,
    image: &PushedImage,
) -> anyhow::Result<()> {
    let data_dir = cluster.data_dir.to_str().context("path is UTF-8")?;
    let layers = images::layer_digests(registry, &image.digest)?;
    let pulled = skiff_ok(cluster, &["pull", &image.reference, "--data-dir", data_dir])?;
    for layer in &layers {
        let short = &layer.trim_start_matches("sha256:")[..12];
        assert!(
            pulled.contains(&format!("{short}: Pulling fs layer")),
            "{pulled}"
        );
        assert!(
            pulled.contains(&format!("{short}: Pull complete")),
            "{pulled}"
        );
    }
    assert!(
        pulled.contains(&format!("Digest: {}", image.digest)),
        "{pulled}"
    );
    assert!(
        pulled.contains(&format!(
            "Status: Downloaded newer image for {}",
            image.reference
        )),
        "{pulled}"
    );
    assert_eq!(pulled.lines().last(), Some(image.reference.as_str()));

    let again = skiff_ok(cluster, &["pull", &image.reference, "--data-dir", data_dir])?;
    assert!(again.contains("Already exists"), "{again}");
    assert!(
        again.contains(&format!(
            "Status: Image is up to date for {}",
            image.reference
        )),
        "{again}"
    );

    let missing = format!("{}/skiff-test/missing:1", registry.host());
    let output = skiff(
        &cluster.kubeconfig(),
        &["pull", &missing, "--data-dir", data_dir],
    )?;
    assert_ne!(output.code, 0);
    assert!(
        output
            .stderr
            .contains(&format!("image not found: {missing}")),
        "{}",
        output.stderr
    );

    let listed = skiff_ok(cluster, &["images", "--data-dir", data_dir])?;
    let header = listed.lines().next().unwrap_or_default();
    let columns: Vec<&str> = header.split("  ").filter(|c| !c.is_empty()).collect();
    assert_eq!(
        columns.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE ID", "SIZE"]
    );
    let config = images::config_digest(registry, &image.digest)?;
    let id = &config.trim_start_matches("sha256:")[..12];
    let row = listed
        .lines()
        .find(|line| line.starts_with(&image.repository))
        .with_context(|| format!("no row for {}:\n{listed}", image.repository))?;
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.len(), 4, "{row}");
    assert_eq!(cells[1], "1");
    assert_eq!(cells[2], id);
    assert!(cells[3].ends_with("B"), "size {}", cells[3]);
    Ok(())
}

fn check_pull_with_credentials(cluster: &Cluster) -> anyhow::Result<()> {
    let registry = Registry::start_with_auth(RegistryAuth::Basic {
        username: "puller".to_string(),
        password: "pull-secret".to_string(),
    })?;
    let image = images::push_layered(&registry)?;
    let data_dir = cluster.data_dir.to_str().context("path is UTF-8")?;
    let kubeconfig = cluster.kubeconfig();
    let anonymous = skiff(
        &kubeconfig,
        &["pull", &image.reference, "--data-dir", data_dir],
    )?;
    assert_ne!(anonymous.code, 0);
    assert!(
        anonymous.stderr.contains("authentication rejected"),
        "{}",
        anonymous.stderr
    );

    let args = [
        "pull",
        &image.reference,
        "--data-dir",
        data_dir,
        "--username",
        "puller",
        "--password-stdin",
    ];
    let wrong = skiff_with_stdin(&kubeconfig, &args, "wrong\n")?;
    assert_ne!(wrong.code, 0);
    assert!(
        wrong.stderr.contains("authentication rejected"),
        "{}",
        wrong.stderr
    );
    let pulled = skiff_with_stdin(&kubeconfig, &args, "pull-secret\n")?.ok()?;
    assert!(
        pulled.contains(&format!(
            "Status: Downloaded newer image for {}",
            image.reference
        )),
        "{pulled}"
    );
    Ok(())
}

fn check_invalid_manifest(cluster: &Cluster, kubectl: &Kubectl) -> anyhow::Result<()> {
    let path = write(kubectl.dir(), "invalid.yaml", INVALID_MANIFEST)?;
    let output = skiff(&cluster.kubeconfig(), &["apply", "-f", &path])?;
    assert_ne!(output.code, 0);
    assert!(
        output.stdout.contains("configmap/fine created"),
        "{}",
        output.stdout
    );
    assert!(
        output.stderr.contains(&format!("{path} (document 2)")),
        "the error names file and document: {}",
        output.stderr
    );
    assert!(
        output.stderr.contains("spec.replicas"),
        "the error names the field: {}",
        output.stderr
    );

    let path = write(
        kubectl.dir(),
        "no-kind.yaml",
        "apiVersion: v1\nmetadata: {name: x}\n",
    )?;
    let output = skiff(&cluster.kubeconfig(), &["apply", "-f", &path])?;
    assert_ne!(output.code, 0);
    assert!(
        output
            .stderr
            .contains(&format!("{path} (document 1): kind not set")),
        "{}",
        output.stderr
    );
    Ok(())
}

fn check_deployment_verbs(
    cluster: &Cluster,
    kubectl: &Kubectl,
    busybox: &PushedImage,
    httpd: &PushedImage,
) -> anyhow::Result<()> {
    let path = write(kubectl.dir(), "vw.yaml", &deployment(&busybox.reference, 1))?;
    let applied = skiff_ok(cluster, &["apply", "-f", &path])?;
    assert_eq!(applied.trim(), "deployment.apps/vw created");
    let status = skiff_ok(
        cluster,
        &["rollout", "status", "deploy/vw", "--timeout", "240"],
    )
    .with_context(|| format!("log:\n{}", cluster.log()))?;
    assert!(status.contains("successfully rolled out"), "{status}");

    let listed = skiff_ok(cluster, &["get", "deploy"])?;
    assert!(listed.starts_with("NAME"), "{listed}");
    let row = listed
        .lines()
        .find(|line| line.starts_with("vw "))
        .with_context(|| format!("no vw row:\n{listed}"))?;
    assert!(row.contains("1/1"), "{row}");

    let scaled = skiff_ok(cluster, &["scale", "deploy/vw", "--replicas", "2"])?;
    assert_eq!(scaled.trim(), "deployment.apps/vw scaled");
    skiff_ok(
        cluster,
        &["rollout", "status", "deploy/vw", "--timeout", "240"],
    )?;
    let current = pods(kubectl, "app=vw")?;
    assert_eq!(current.len(), 2, "{current:?}");
    let listed = skiff_ok(cluster, &["get", "pods", "-l", "app=vw"])?;
    for pod in &current {
        assert!(listed.contains(&pod.name), "{listed}");
    }

    let pod = &current[0];
    let logs = skiff_ok(cluster, &["logs", &pod.name])?;
    assert!(logs.contains("hello from vw"), "{logs}");
    let id = skiff_ok(cluster, &["exec", &pod.name, "--", "cat", "/srv/www/id"])?;
    assert_eq!(id.trim(), format!("vw-{}", pod.name));
    let output = skiff(
        &cluster.kubeconfig(),
        &["exec", &pod.name, "--", "sh", "-c", "exit 3"],
    )?;
    assert_eq!(output.code, 3, "exec passes the exit code: {output:?}");

    // `skiff scale` owns spec.replicas now, so applying another value
    // conflicts as it does with `kubectl apply --server-side`.
    let path = write(kubectl.dir(), "vw.yaml", &deployment(&httpd.reference, 1))?;
    let output = skiff(&cluster.kubeconfig(), &["apply", "-f", &path])?;
    assert_ne!(output.code, 0);
    assert!(
        output.stderr.contains("conflict with \"skiff-scale\""),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("--force-conflicts"),
        "{}",
        output.stderr
    );
    let applied = skiff_ok(cluster, &["apply", "--force-conflicts", "-f", &path])?;
    assert_eq!(applied.trim(), "deployment.apps/vw configured");
    skiff_ok(
        cluster,
        &["rollout", "status", "deploy/vw", "--timeout", "240"],
    )?;
    wait_for("pods on the httpd image", Duration::from_secs(120), || {
        let current = pods(kubectl, "app=vw")?;
        Ok(current.len() == 1 && current.iter().all(|pod| pod.image == httpd.reference))
    })?;
    let undone = skiff_ok(cluster, &["rollout", "undo", "deploy/vw"])?;
    assert!(
        undone.contains("deployment.apps/vw rolled back"),
        "{undone}"
    );
    skiff_ok(
        cluster,
        &["rollout", "status", "deploy/vw", "--timeout", "240"],
    )?;
    wait_for("pods back on busybox", Duration::from_secs(120), || {
        let current = pods(kubectl, "app=vw")?;
        Ok(current.len() == 1
            && current
                .iter()
                .all(|pod| pod.image == busybox.reference && pod.ready))
    })?;
    for pod in pods(kubectl, "app=vw")? {
        let body = http_get(&pod.ip, 8080, "/id")?;
        assert_eq!(body.trim(), format!("vw-{}", pod.name));
    }
    let deleted = skiff_ok(cluster, &["delete", "-f", &path])?;
    assert!(
        deleted.contains("deployment.apps \"vw\" deleted"),
        "{deleted}"
    );
    Ok(())
}

/// Returns the NAT table as `iptables-save` prints it.
fn nat_rules() -> anyhow::Result<String> {
    let output = std::process::Command::new("iptables-save")
        .args(["-t", "nat"])
        .output()
        .context("running iptables-save")?;
    anyhow::ensure!(output.status.success(), "iptables-save failed");
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Returns the lines of `/boots` served on the published port.
fn boots(port: u16) -> anyhow::Result<usize> {
    Ok(http_get("127.0.0.1", port, "/boots")?.lines().count())
}

fn check_run_verbs(
    cluster: &Cluster,
    kubectl: &Kubectl,
    image: &PushedImage,
) -> anyhow::Result<()> {
    let host_dir = tempfile::tempdir()?;
    let host_port = free_port();
    let publish = format!("{host_port}:80");
    let volume = format!("{}:/data", host_dir.path().display());
    let ran = skiff_ok(
        cluster,
        &[
            "run",
            "hp",
            "--image",
            &image.reference,
            "-p",
            &publish,
            "-v",
            &volume,
            "--",
            "sh",
            "-c",
            // The shell runs as PID 1, which ignores SIGTERM unless it
            // installs a handler, so the trap makes stops take no grace period.
            "date >> /data/boots; httpd -f -p 80 -h /data & trap 'kill $!; exit 0' TERM; wait",
        ],
    )?;
    assert_eq!(ran.trim(), "deployment.apps/hp created");
    wait_for("hp on the published port", Duration::from_secs(180), || {
        Ok(boots(host_port)? == 1)
    })
    .with_context(|| format!("log:\n{}", cluster.log()))?;

    // The pod's status reports the container running shortly after it serves.
    let mut row = String::new();
    wait_for("hp in skiff ps", Duration::from_secs(60), || {
        let ps = skiff_ok(cluster, &["ps"])?;
        row = ps
            .lines()
            .find(|line| line.contains("/hp"))
            .unwrap_or_default()
            .to_string();
        Ok(!row.is_empty())
    })?;
    assert!(row.contains("Up"), "{row}");
    assert!(row.contains(&format!(":{host_port}->80/tcp")), "{row}");
    assert!(row.contains(&image.reference), "{row}");

    let first = pods(kubectl, "app=hp")?;
    assert_eq!(first.len(), 1, "{first:?}");
    kubectl.run(&["delete", "pod", &first[0].name])?.ok()?;
    wait_for(
        "a new hp pod that sees the old data",
        Duration::from_secs(180),
        || {
            let current = pods(kubectl, "app=hp")?;
            Ok(current.len() == 1 && current[0].name != first[0].name && boots(host_port)? == 2)
        },
    )?;

    assert_eq!(skiff_ok(cluster, &["stop", "hp"])?.trim(), "hp");
    wait_for("hp to stop", Duration::from_secs(120), || {
        Ok(pods(kubectl, "app=hp")?.is_empty() && !skiff_ok(cluster, &["ps"])?.contains("/hp"))
    })?;
    assert_eq!(skiff_ok(cluster, &["start", "hp"])?.trim(), "hp");
    wait_for("hp to start again", Duration::from_secs(180), || {
        Ok(boots(host_port)? == 3)
    })?;
    assert_eq!(skiff_ok(cluster, &["rm", "hp"])?.trim(), "hp");
    // Terminating pods count too, because the node releases the port only
    // when the last one is gone.
    wait_for("hp to go", Duration::from_secs(120), || {
        let gone = kubectl.run(&["get", "deployment", "hp"])?.code != 0;
        let left = kubectl
            .run(&["get", "pods", "-l", "app=hp", "-o", "name"])?
            .ok()?;
        Ok(gone && left.trim().is_empty())
    })?;
    wait_for(
        "the node to remove hp's port mapping",
        Duration::from_secs(120),
        || Ok(!nat_rules()?.contains(&format!("--dport {host_port} "))),
    )?;
    let saved = std::fs::read_to_string(host_dir.path().join("boots"))?;
    assert_eq!(saved.lines().count(), 3, "{saved}");
    Ok(())
}

fn check_missing_image(
    cluster: &Cluster,
    kubectl: &Kubectl,
    registry: &Registry,
) -> anyhow::Result<()> {
    let missing = format!("{}/skiff-test/ghost:1", registry.host());
    skiff_ok(cluster, &["run", "ghost", "--image", &missing])?;
    let mut message = String::new();
    wait_for("ghost's pull to fail", Duration::from_secs(120), || {
        message = kubectl
            .run(&[
                "get",
                "pods",
                "-l",
                "app=ghost",
                "-o",
                "jsonpath={.items[0].status.containerStatuses[0].state.waiting.message}",
            ])?
            .ok()?;
        Ok(message.contains("not found"))
    })?;
    assert!(message.contains(&missing), "{message}");
    let ps = skiff_ok(cluster, &["ps", "-a"])?;
    let row = ps
        .lines()
        .find(|line| line.contains("/ghost"))
        .with_context(|| format!("no ghost row:\n{ps}"))?;
    assert!(
        row.contains("ErrImagePull") || row.contains("ImagePullBackOff"),
        "{row}"
    );
    assert_eq!(skiff_ok(cluster, &["rm", "ghost"])?.trim(), "ghost");
    wait_for("ghost's pod to go", Duration::from_secs(120), || {
        let left = kubectl
            .run(&["get", "pods", "-l", "app=ghost", "-o", "name"])?
            .ok()?;
        Ok(left.trim().is_empty())
    })?;
    Ok(())
}
