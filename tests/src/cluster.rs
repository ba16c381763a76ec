//! A whole `skiff server` (control plane plus a local node) started for one
//! test, with names unique to it: node, bridge, pod subnet, netns prefix and
//! cgroup parent. Dropping it stops the server and removes every container,
//! mount, namespace, cgroup and link the node made.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::kubectl::Kubectl;
use crate::process::{free_port, skiff_bin};
use crate::shim::{Leftovers, mounts_under, remove_node_leftovers};

/// How long the server gets to serve the API and report its node Ready.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A running `skiff server` and the names that make it unique.
pub struct Cluster {
    pub data_dir: PathBuf,
    pub node_name: String,
    pub bridge: String,
    pub netns_prefix: String,
    pub cgroup_parent: String,
    pub port: u16,
    pub kubelet_port: u16,
    subnet: String,
    /// Flags added to every later start of the server.
    extra_args: Vec<String>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `skiff server` in a fresh data directory and waits until its
    /// node is Ready.
    pub fn start() -> anyhow::Result<Self> {
        let mut cluster = Self::launch()?;
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// Starts `skiff server` in a fresh data directory without waiting.
    pub fn launch() -> anyhow::Result<Self> {
        let suffix = hex::encode(rand::random::<[u8; 3]>());
        let dir = tempfile::Builder::new().prefix("skiff-e2e-").tempdir()?;
        let second: u8 = rand::random_range(0..50);
        let third: u8 = rand::random();
        let mut cluster = Self {
            data_dir: dir.path().join("data"),
            node_name: format!("skiff-e2e-{suffix}"),
            bridge: format!("ske{suffix}"),
            netns_prefix: format!("ske-{suffix}-"),
            cgroup_parent: format!("/skiff-e2e-{suffix}"),
            port: free_port(),
            kubelet_port: free_port(),
            subnet: format!("10.{}.{}.0/24", 150 + second, third),
            extra_args: Vec::new(),
            child: None,
            _dir: dir,
        };
        cluster.spawn()?;
        Ok(cluster)
    }

    /// Returns the process id of the server, if it is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new(skiff_bin())
            .arg("server")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--port", &self.port.to_string()])
            .args(["--node-name", &self.node_name])
            .args(["--kubelet-port", &self.kubelet_port.to_string()])
            .args(["--bridge", &self.bridge])
            .args(["--pod-cidr", &self.subnet])
            .args(["--netns-prefix", &self.netns_prefix])
            .args(["--cgroup-parent", &self.cgroup_parent])
            .args(&self.extra_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting skiff server")?;
        self.child = Some(child);
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.with_file_name("server.log")
    }

    /// Returns the server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Returns the path of the kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    /// Returns a kubectl of `version` (e.g. "1.33") pointed at this cluster.
    pub fn kubectl(&self, version: &str) -> anyhow::Result<Kubectl> {
        Kubectl::new(version, &self.url())
    }

    /// Returns the directory the node's runtime passes to `runc --root`.
    pub fn runc_root(&self) -> PathBuf {
        self.data_dir.join("shim").join("runc")
    }

    /// Ids of the containers runc reports as running on this node.
    pub fn running_containers(&self) -> anyhow::Result<Vec<String>> {
        let output = Command::new("runc")
            .arg("--root")
            .arg(self.runc_root())
            .args(["list", "--format", "json"])
            .output()
            .context("running runc list")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if text.trim().is_empty() || text.trim() == "null" {
            return Ok(Vec::new());
        }
        let list: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("invalid runc list output: {text}"))?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|container| container["status"] == "running")
            .filter_map(|container| container["id"].as_str().map(str::to_string))
            .collect())
    }

    /// Network namespaces of this node's pods.
    pub fn network_namespaces(&self) -> Vec<String> {
        std::fs::read_dir("/var/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(&self.netns_prefix))
            .collect()
    }

    /// Overlay mounts of this node's containers.
    pub fn container_mounts(&self) -> Vec<String> {
        mounts_under(&self.data_dir.join("shim"))
    }

    /// Polls the node's Ready condition until it is True.
    pub fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let kubectl = self.kubectl("1.33")?;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("skiff server exited with {status}; log:\n{}", self.log());
            }
            let ready = kubectl
                .run(&[
                    "get",
                    "node",
                    &self.node_name,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ])
                .map(|output| output.code == 0 && output.stdout.trim() == "True")
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        bail!(
            "node {} was not Ready within {START_TIMEOUT:?}; log:\n{}",
            self.node_name,
            self.log()
        )
    }

    /// Stops the server with SIGTERM, as Ctrl-C would, and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        crate::process::terminate(&mut child, Duration::from_secs(30));
    }

    /// Stops the server and starts it again on the same data directory.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn()?;
        self.wait_ready()
    }

    /// Stops the server and starts it again on the same data directory
    /// with `args` added to its flags, for this and every later start.
    pub fn restart_with_args(&mut self, args: &[&str]) -> anyhow::Result<()> {
        self.extra_args
            .extend(args.iter().map(|arg| arg.to_string()));
        self.restart()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        clean_up(self);
    }
}

/// Removes what the node left behind: containers (and with them their
/// monitors), NAT rules, mounts, network namespaces, cgroups and the bridge.
fn clean_up(cluster: &Cluster) {
    remove_nat_rules(&cluster.data_dir.join("shim").join("sandboxes"));
    remove_node_leftovers(&Leftovers {
        runc_root: &cluster.runc_root(),
        mounts_below: &cluster.data_dir,
        netns_prefix: &cluster.netns_prefix,
        cgroup_parent: &cluster.cgroup_parent,
        bridge: &cluster.bridge,
    });
}

/// Deletes the NAT rules and chains that the CNI plugins made for the
/// sandboxes under `sandboxes_dir` and never removed, because the server
/// stopped before the pods did. The plugins tag each rule with a comment
/// naming the sandbox id, so only this node's rules match.
fn remove_nat_rules(sandboxes_dir: &Path) {
    let ids: Vec<String> = std::fs::read_dir(sandboxes_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    if ids.is_empty() {
        return;
    }
    let Ok(output) = Command::new("iptables-save").args(["-t", "nat"]).output() else {
        return;
    };
    let rules = String::from_utf8_lossy(&output.stdout);
    let mut chains = Vec::new();
    for rule in rules.lines().filter(|line| line.starts_with("-A ")) {
        if !ids
            .iter()
            .any(|id| rule.contains(&format!("id: \\\"{id}\\\"")))
        {
            continue;
        }
        let words: Vec<&str> = rule.split_whitespace().collect();
        let chain = words.get(1).copied().unwrap_or_default();
        let target = words
            .iter()
            .position(|word| *word == "-j")
            .and_then(|index| words.get(index + 1));
        if let Some(target) = target.filter(|target| target.starts_with("CNI-")) {
            chains.push(target.to_string());
        }
        if chain.starts_with("CNI-") && !chain.starts_with("CNI-HOSTPORT-") {
            chains.push(chain.to_string());
        }
        // The comment contains spaces and quotes, so the rule is passed
        // through a shell to split it the way iptables-save quoted it.
        let delete = format!("iptables -t nat -D {}", &rule[3..]);
        let _ = Command::new("sh")
            .args(["-c", &delete])
            .stderr(Stdio::null())
            .status();
    }
    chains.sort();
    chains.dedup();
    for chain in chains
        .iter()
        .filter(|chain| !chain.starts_with("CNI-HOSTPORT-"))
    {
        for flag in ["-F", "-X"] {
            let _ = Command::new("iptables")
                .args(["-t", "nat", flag, chain])
                .stderr(Stdio::null())
                .status();
        }
    }
}
