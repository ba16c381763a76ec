//! A runtime shim started for one test: its own root directory, socket,
//! bridge, pod subnet, netns prefix and cgroup parent, all removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::process::skiff_bin;

/// How long the shim gets to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Shim {
    pub root: PathBuf,
    pub socket: PathBuf,
    pub bridge: String,
    pub subnet_prefix: String,
    pub netns_prefix: String,
    pub cgroup_parent: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Shim {
    /// Starts `skiff shim` with names unique to this instance.
    pub async fn start() -> anyhow::Result<Self> {
        let suffix = hex::encode(rand::random::<[u8; 3]>());
        let dir = tempfile::Builder::new().prefix("skiff-shim-").tempdir()?;
        let second: u8 = rand::random_range(0..=255);
        let third: u8 = rand::random_range(0..=255);
        let mut shim = Self {
            root: dir.path().join("root"),
            socket: dir.path().join("cri.sock"),
            bridge: format!("skt{suffix}"),
            subnet_prefix: format!("10.{}.{}", 200 + second % 50, third),
            netns_prefix: format!("skt-{suffix}-"),
            cgroup_parent: format!("/skiff-test-{suffix}"),
            child: None,
            _dir: dir,
        };
        shim.spawn().await?;
        Ok(shim)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.with_file_name("shim.log"))?;
        let child = Command::new(skiff_bin())
            .arg("shim")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--root")
            .arg(&self.root)
            .arg("--bridge")
            .arg(&self.bridge)
            .arg("--pod-cidr")
            .arg(format!("{}.0/24", self.subnet_prefix))
            .arg("--netns-prefix")
            .arg(&self.netns_prefix)
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting skiff shim")?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.socket.exists() && self.client().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "the shim did not open {} in {START_TIMEOUT:?}; log:\n{}",
            self.socket.display(),
            self.log()
        );
    }

    /// Returns the shim's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.with_file_name("shim.log")).unwrap_or_default()
    }

    /// Kills the server (SIGKILL, like a crash) and starts it again on the same root.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Connects a CRI runtime client over the unix socket.
    pub async fn client(&self) -> anyhow::Result<RuntimeServiceClient<Channel>> {
        Ok(RuntimeServiceClient::new(connect(&self.socket).await?))
    }

    /// Connects a CRI image client over the unix socket.
    pub async fn image_client(&self) -> anyhow::Result<ImageServiceClient<Channel>> {
        Ok(ImageServiceClient::new(connect(&self.socket).await?))
    }

    /// Directory of a runc state for `runc --root`.
    pub fn runc_root(&self) -> PathBuf {
        self.root.join("runc")
    }
}

/// Connects a gRPC channel to a unix socket.
pub async fn connect(socket: &Path) -> anyhow::Result<Channel> {
    let socket = socket.to_path_buf();
    let channel = Endpoint::try_from("http://[::1]:50051")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await?;
    Ok(channel)
}

impl Drop for Shim {
    fn drop(&mut self) {
        self.kill();
        clean_up(self);
    }
}

/// Removes whatever a failed test left behind: containers, mounts,
/// namespaces, cgroups and the bridge.
fn clean_up(shim: &Shim) {
    remove_node_leftovers(&Leftovers {
        runc_root: &shim.runc_root(),
        mounts_below: &shim.root,
        netns_prefix: &shim.netns_prefix,
        cgroup_parent: &shim.cgroup_parent,
        bridge: &shim.bridge,
    });
}

/// What one test node may leave on the machine, by name.
pub struct Leftovers<'a> {
    /// The directory passed to `runc --root`.
    pub runc_root: &'a Path,
    /// Every mount at or below this directory is removed.
    pub mounts_below: &'a Path,
    pub netns_prefix: &'a str,
    pub cgroup_parent: &'a str,
    pub bridge: &'a str,
}

/// Deletes a test node's containers (which ends their monitors), mounts,
/// network namespaces, cgroups and bridge.
pub fn remove_node_leftovers(leftovers: &Leftovers<'_>) {
    if let Ok(entries) = std::fs::read_dir(leftovers.runc_root) {
        for entry in entries.flatten() {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(leftovers.runc_root)
                .args(["delete", "--force"])
                .arg(entry.file_name())
                .stderr(Stdio::null())
                .status();
        }
    }
    for mount in mounts_under(leftovers.mounts_below) {
        let _ = Command::new("umount").arg("-l").arg(&mount).status();
    }
    if let Ok(entries) = std::fs::read_dir("/var/run/netns") {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(leftovers.netns_prefix)
            {
                let _ = Command::new("umount").arg("-l").arg(entry.path()).status();
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    for dir in cgroup_dirs(leftovers.cgroup_parent) {
        let _ = Command::new("find")
            .arg(&dir)
            .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
            .stderr(Stdio::null())
            .status();
    }
    let _ = Command::new("ip")
        .args(["link", "del", leftovers.bridge])
        .stderr(Stdio::null())
        .status();
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.display().to_string();
    let mut found: Vec<String> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    found.sort_by_key(|point| std::cmp::Reverse(point.len()));
    found
}

/// Existing directories of cgroup `path` in every hierarchy.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let relative = path.trim_start_matches('/');
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for entry in entries.flatten() {
            let dir = entry.path().join(relative);
            if dir.is_dir() {
                dirs.push(dir);
            }
        }
    }
    let unified = Path::new("/sys/fs/cgroup").join(relative);
    if unified.is_dir() && !dirs.contains(&unified) {
        dirs.push(unified);
    }
    dirs
}

/// Builds a busybox root filesystem (static busybox plus applet links and
/// passwd/group files) in `dir`.
pub fn busybox_rootfs(dir: &Path) -> anyhow::Result<()> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    for sub in ["etc", "tmp", "proc", "sys", "dev", "root", "www"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::copy("/bin/busybox", bin.join("busybox"))
        .context("copying /bin/busybox (busybox-static)")?;
    let list = Command::new("/bin/busybox").arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet))?;
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    std::fs::write(dir.join("www/index.html"), "hello from skiff\n")?;
    Ok(())
}
