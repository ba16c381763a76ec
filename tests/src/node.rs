//! A node for end-to-end tests: a CRI runtime (our `skiff shim` or Debian's
//! containerd) with its own CNI bridge and subnet, and a `skiff kubelet`
//! process on top. Everything is removed again when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::apiserver::ApiServer;
use crate::images;
use crate::process::skiff_bin;
use crate::registry::Registry;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which CRI implementation runs the pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    Shim,
    Containerd,
}

impl RuntimeKind {
    /// `$SKIFF_CRI` (`shim` or `containerd`); the shim by default.
    pub fn from_env() -> RuntimeKind {
        match std::env::var("SKIFF_CRI").as_deref() {
            Ok("containerd") => RuntimeKind::Containerd,
            _ => RuntimeKind::Shim,
        }
    }
}

/// A short random suffix for names shared with other tests on the machine.
pub fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:06x}",
        (nanos ^ std::process::id().rotate_left(16)) & 0xff_ffff
    )
}

/// A CRI runtime process with its own directory, bridge and subnet.
pub struct CriRuntime {
    pub kind: RuntimeKind,
    child: Option<Child>,
    socket: PathBuf,
    dir: tempfile::TempDir,
    bridge: String,
    /// The /24 pods get addresses from, such as `10.201.7.0/24`.
    pub subnet: String,
}

impl CriRuntime {
    /// Starts `kind` with images from `registry`.
    pub fn start(kind: RuntimeKind, registry: &Registry) -> Result<CriRuntime> {
        let dir = tempfile::Builder::new().prefix("skiff-node-").tempdir()?;
        let id = suffix();
        let bridge = format!("skb{id}");
        let octets = u32::from_str_radix(&id, 16).unwrap_or(0);
        let subnet = format!("10.{}.{}.0/24", 200 + (octets >> 8) % 50, octets % 250);
        let socket = dir.path().join("cri.sock");
        let mut runtime = CriRuntime {
            kind,
            child: None,
            socket,
            dir,
            bridge,
            subnet,
        };
        let child = match kind {
            RuntimeKind::Containerd => runtime.spawn_containerd(registry)?,
            RuntimeKind::Shim => runtime.spawn_shim()?,
        };
        runtime.child = Some(child);
        runtime.wait_ready()?;
        Ok(runtime)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Returns what the runtime logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runtime.log")).unwrap_or_default()
    }

    fn log_file(&self) -> Result<(Stdio, Stdio)> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("runtime.log"))?;
        Ok((Stdio::from(log.try_clone()?), Stdio::from(log)))
    }

    fn cni_config(&self) -> String {
        let gateway = self.subnet.replace(".0/24", ".1");
        let ipam_dir = self.dir.path().join("ipam");
        serde_json::json!({
            "cniVersion": "1.0.0",
            "name": format!("skiff-{}", self.bridge),
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{ "subnet": self.subnet, "gateway": gateway }]],
                        "dataDir": ipam_dir,
                    }
                },
                { "type": "portmap", "capabilities": { "portMappings": true } }
            ]
        })
        .to_string()
    }

    fn spawn_shim(&self) -> Result<Child> {
        let (out, err) = self.log_file()?;
        Command::new(skiff_bin())
            .arg("shim")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--bridge")
            .arg(&self.bridge)
            .arg("--pod-cidr")
            .arg(&self.subnet)
            .arg("--netns-prefix")
            .arg(format!("{}-", self.bridge))
            .arg("--cgroup-parent")
            .arg(format!("/skiff-shim-{}", self.bridge))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("failed to start skiff shim")
    }

    fn spawn_containerd(&self, registry: &Registry) -> Result<Child> {
        let dir = self.dir.path();
        let pause = push_pause(registry)?;
        let cni_dir = dir.join("cni");
        std::fs::create_dir_all(&cni_dir)?;
        std::fs::write(cni_dir.join("10-skiff.conflist"), self.cni_config())?;
        let host = registry.host();
        let certs = dir.join("certs.d").join(&host);
        std::fs::create_dir_all(&certs)?;
        std::fs::write(
            certs.join("hosts.toml"),
            format!(
                "server = \"http://{host}\"\n[host.\"http://{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"
            ),
        )?;
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs}"
"#,
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            socket = self.socket.display(),
            cni = cni_dir.display(),
            certs = dir.join("certs.d").display(),
        );
        std::fs::write(dir.join("containerd.toml"), config)?;
        self.spawn_containerd_process()
    }

    fn spawn_containerd_process(&self) -> Result<Child> {
        let (out, err) = self.log_file()?;
        Command::new("containerd")
            .arg("--config")
            .arg(self.dir.path().join("containerd.toml"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("failed to start containerd")
    }

    /// Returns the first three octets of the pod subnet, such as `10.201.7`.
    pub fn subnet_prefix(&self) -> &str {
        self.subnet.trim_end_matches(".0/24")
    }

    /// Returns the bridge pods attach to.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Returns the cgroup parent of the shim's pods (unused by containerd).
    pub fn shim_cgroup_parent(&self) -> String {
        format!("/skiff-shim-{}", self.bridge)
    }

    /// Returns the prefix of the shim's network namespace names.
    pub fn shim_netns_prefix(&self) -> String {
        format!("{}-", self.bridge)
    }

    /// Kills the runtime with SIGKILL, as a crash would, and starts it again
    /// with the same configuration and state. Containers keep running.
    pub fn restart(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
        let child = match self.kind {
            RuntimeKind::Shim => self.spawn_shim()?,
            RuntimeKind::Containerd => self.spawn_containerd_process()?,
        };
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the CRI runtime exited with {status}:\n{}", self.log());
            }
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "the CRI runtime did not listen within {READY_TIMEOUT:?}:\n{}",
            self.log()
        )
    }
}

impl Drop for CriRuntime {
    fn drop(&mut self) {
        let socket = self.socket.clone();
        // Remove every sandbox first so no container, mount or netns stays.
        let _ = std::thread::spawn(move || cri_cleanup::remove_all(&socket)).join();
        if let Some(mut child) = self.child.take() {
            let _ = nix_kill(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        unmount_under(self.dir.path());
        if self.kind == RuntimeKind::Shim {
            remove_cgroup_tree(&format!("/skiff-shim-{}", self.bridge));
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
    }
}

/// Sends a signal by PID with kill(1).
fn nix_kill(pid: u32, signal: &str) -> Result<()> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    Ok(())
}

/// Lazily unmounts every mount point under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut mounts: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for m in mounts {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
}

/// Pushes a pause image (busybox sleeping for ever) for containerd's
/// sandboxes, as `skiff-test/pause:1`.
fn push_pause(registry: &Registry) -> Result<String> {
    let layout = images::oci_layout()?;
    let work = tempfile::Builder::new().prefix("skiff-pause-").tempdir()?;
    let copy = work.path().join("oci");
    run(Command::new("cp").arg("-a").arg(&layout).arg(&copy))?;
    run(Command::new("umoci")
        .args(["config", "--image"])
        .arg(format!("{}:busybox", copy.display()))
        .args([
            "--tag",
            "pause",
            "--config.entrypoint",
            "/bin/sleep",
            "--config.cmd",
            "2147483647",
        ]))?;
    let reference = format!("{}/{}/pause:1", registry.host(), images::NAMESPACE);
    run(Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:pause", copy.display()))
        .arg(format!("docker://{reference}")))?;
    Ok(reference)
}

fn run(command: &mut Command) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("failed to run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A `skiff kubelet` process.
pub struct Kubelet {
    child: Option<Child>,
    pub node_name: String,
    pub root_dir: PathBuf,
    pub cgroup_parent: String,
    kubeconfig: PathBuf,
    socket: PathBuf,
    log_path: PathBuf,
    starts: u32,
}

impl Kubelet {
    /// Starts a kubelet for node `node_name` against `api` and `runtime`.
    pub fn start(api: &ApiServer, runtime: &CriRuntime, node_name: &str) -> Result<Kubelet> {
        let kubeconfig = api.write_kubeconfig(runtime.dir())?;
        let mut kubelet = Kubelet {
            child: None,
            node_name: node_name.to_string(),
            root_dir: runtime.dir().join("kubelet"),
            cgroup_parent: format!("/skiff-test-{}", suffix()),
            kubeconfig,
            socket: runtime.socket().to_path_buf(),
            log_path: runtime.dir().join("kubelet.log"),
            starts: 0,
        };
        kubelet.spawn()?;
        Ok(kubelet)
    }

    fn spawn(&mut self) -> Result<()> {
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let child = Command::new(skiff_bin())
            .arg("kubelet")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--node-name", &self.node_name, "--port", "0"])
            .arg("--cri-socket")
            .arg(&self.socket)
            .arg("--root-dir")
            .arg(&self.root_dir)
            .args(["--cgroup-parent", &self.cgroup_parent])
            .args(["--node-labels", "skiff.dev/test=true"])
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info,skiff_kubelet=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("failed to start skiff kubelet")?;
        self.child = Some(child);
        Ok(())
    }

    /// Stops the kubelet with SIGTERM (pods keep running).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix_kill(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the kubelet again after `stop`.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Returns what the kubelet logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop();
        // Pods outlive the kubelet, so remove them before their cgroups.
        let socket = self.socket.clone();
        let _ = std::thread::spawn(move || cri_cleanup::remove_all(&socket)).join();
        unmount_under(&self.root_dir);
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

/// Removes a cgroup and its (empty) children in every hierarchy.
pub fn remove_cgroup_tree(path: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let relative = path.trim_start_matches('/');
    for h in hierarchies.flatten() {
        remove_dirs_bottom_up(&h.path().join(relative));
    }
}

fn remove_dirs_bottom_up(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_dirs_bottom_up(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

mod cri_cleanup {
    //! Removes every pod sandbox of a runtime through CRI.

    use std::path::Path;

    use hyper_util::rt::TokioIo;
    use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
    use k8s_cri::v1::{ListPodSandboxRequest, RemovePodSandboxRequest, StopPodSandboxRequest};
    use tonic::transport::{Endpoint, Uri};

    pub fn remove_all(socket: &Path) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let socket = socket.to_path_buf();
            let Ok(endpoint) = Endpoint::try_from("http://[::]:50051") else {
                return;
            };
            let channel = endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(
                            tokio::net::UnixStream::connect(socket).await?,
                        ))
                    }
                }))
                .await;
            let Ok(channel) = channel else { return };
            let mut client = RuntimeServiceClient::new(channel);
            // A runtime restarted a moment ago may not serve yet (containerd
            // opens its socket before its CRI plugin is ready).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let list = loop {
                match client
                    .list_pod_sandbox(ListPodSandboxRequest { filter: None })
                    .await
                {
                    Ok(list) => break list,
                    Err(_) if std::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    Err(_) => return,
                }
            };
            for sandbox in list.into_inner().items {
                let id = sandbox.id;
                let _ = client
                    .stop_pod_sandbox(StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await;
                let _ = client
                    .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                    .await;
            }
        });
    }
}

/// Everything one kubelet test needs: a registry with the test images, a
/// CRI runtime, an apiserver, a kubelet and kubectl.
pub struct TestNode {
    pub kubectl: crate::kubectl::Kubectl,
    pub kubelet: Kubelet,
    pub api: ApiServer,
    pub runtime: CriRuntime,
    pub registry: Registry,
    pub busybox: String,
    pub httpd: String,
    pub client: kube::Client,
}

impl TestNode {
    /// Starts everything with the runtime from `$SKIFF_CRI` and kubectl
    /// `kubectl_version`, and waits for the node to be Ready.
    pub async fn start(kubectl_version: &str) -> Result<TestNode> {
        let registry = Registry::start()?;
        let busybox = images::push_busybox(&registry)?.reference;
        let httpd = images::push_httpd(&registry)?.reference;
        let runtime = CriRuntime::start(RuntimeKind::from_env(), &registry)?;
        let api = ApiServer::start()?;
        let node_name = format!("node-{}", suffix());
        let kubelet = Kubelet::start(&api, &runtime, &node_name)?;
        let kubectl = crate::kubectl::Kubectl::new(kubectl_version, &api.url())?;
        let client = api.client().await?;
        let node = TestNode {
            kubectl,
            kubelet,
            api,
            runtime,
            registry,
            busybox,
            httpd,
            client,
        };
        node.wait_node_ready().await?;
        Ok(node)
    }

    pub fn node_name(&self) -> &str {
        &self.kubelet.node_name
    }

    /// Waits until the Node reports Ready=True.
    pub async fn wait_node_ready(&self) -> Result<()> {
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
            kube::Api::all(self.client.clone());
        let name = self.node_name().to_string();
        self.wait("the node to be Ready", Duration::from_secs(60), || {
            let nodes = nodes.clone();
            let name = name.clone();
            async move {
                let node = nodes.get_opt(&name).await.ok().flatten()?;
                let ready = node
                    .status?
                    .conditions?
                    .into_iter()
                    .find(|c| c.type_ == "Ready")?;
                (ready.status == "True").then_some(())
            }
        })
        .await
    }

    /// Applies a manifest with kubectl.
    pub fn apply(&self, manifest: &str) -> Result<String> {
        let path = self
            .kubectl
            .dir()
            .join(format!("manifest-{}.yaml", suffix()));
        std::fs::write(&path, manifest)?;
        let path = path.to_string_lossy().into_owned();
        self.kubectl.run(&["apply", "-f", &path])?.ok()
    }

    /// Polls `check` until it returns Some or `timeout` passes.
    pub async fn wait<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after {timeout:?} waiting for {what}\n--- kubelet log (tail) ---\n{}",
                    tail(&self.kubelet.log(), 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until pod `name` in `default` satisfies `check`, returning it.
    pub async fn wait_pod(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&k8s_openapi::api::core::v1::Pod) -> bool,
    ) -> Result<k8s_openapi::api::core::v1::Pod> {
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(self.client.clone(), "default");
        let check = &check;
        let last = std::sync::Mutex::new(String::new());
        let result = self
            .wait(what, timeout, || {
                let pods = pods.clone();
                let last = &last;
                async move {
                    let pod = pods.get_opt(name).await.ok().flatten()?;
                    if let Ok(mut l) = last.lock() {
                        *l = serde_json::to_string_pretty(&pod.status).unwrap_or_default();
                    }
                    check(&pod).then_some(pod)
                }
            })
            .await;
        result.map_err(|e| {
            anyhow::anyhow!(
                "{e}\n--- last pod status ---\n{}",
                last.lock().map(|l| l.clone()).unwrap_or_default()
            )
        })
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The state of container `name` in a pod status: its waiting reason,
/// "running" or "terminated".
pub fn container_state(pod: &k8s_openapi::api::core::v1::Pod, name: &str) -> Option<String> {
    let status = pod.status.as_ref()?;
    let all = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten());
    let c = all.into_iter().find(|c| c.name == name)?;
    let state = c.state.as_ref()?;
    if let Some(w) = &state.waiting {
        return w.reason.clone();
    }
    if state.running.is_some() {
        return Some("running".into());
    }
    state.terminated.as_ref().map(|_| "terminated".into())
}
