//! A `skiff apiserver` child process on a free loopback port with a
//! temporary data directory, stopped when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::{free_port, skiff_bin};

/// How long the apiserver may take before `/readyz` returns 200.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `skiff apiserver`.
pub struct ApiServer {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
    /// Keeps the temporary data directory alive when the server owns it.
    _temp_dir: Option<tempfile::TempDir>,
    log_path: PathBuf,
}

impl ApiServer {
    /// Starts an apiserver with a fresh temporary data directory.
    pub fn start() -> anyhow::Result<Self> {
        let temp_dir = tempfile::Builder::new()
            .prefix("skiff-apiserver-")
            .tempdir()
            .context("failed to create a temporary data directory")?;
        let data_dir = temp_dir.path().join("data");
        let mut server = Self::start_in(&data_dir, None)?;
        server._temp_dir = Some(temp_dir);
        Ok(server)
    }

    /// Starts an apiserver on `data_dir`, on `port` or a free one. The caller
    /// keeps the directory, so a later server can reopen it.
    pub fn start_in(data_dir: &Path, port: Option<u16>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("failed to create {}", data_dir.display()))?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = port.unwrap_or_else(free_port);
            match Self::spawn(data_dir, port) {
                Ok(server) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the apiserver did not start")))
    }

    fn spawn(data_dir: &Path, port: u16) -> anyhow::Result<Self> {
        let log_path = data_dir.join(format!("apiserver-{port}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("failed to create {}", log_path.display()))?;
        let child = Command::new(skiff_bin())
            .args(["apiserver", "--bind-address", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to run {}", skiff_bin().display()))?;
        let mut server = Self {
            child: Some(child),
            port,
            data_dir: data_dir.to_path_buf(),
            _temp_dir: None,
            log_path,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "the apiserver exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            if self.get("/readyz").is_ok_and(|(code, _)| code == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "the apiserver did not answer /readyz within {READY_TIMEOUT:?}:\n{}",
            self.log()
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Returns the process id of the apiserver, if it is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Returns what the apiserver logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends SIGKILL and waits for the process to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a plain HTTP/1.0 GET and returns the status code and body.
    pub fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        self.request("GET", path, &[], "")
    }

    /// Sends a plain HTTP/1.0 request and returns the status code and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes())?;
        // A server may reply (413) and close before it has read a large body,
        // so a failed body write still leaves a reply to read.
        let _ = stream.write_all(body.as_bytes());
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("the reply has no status line")?;
        Ok((code, body.to_string()))
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path.
    pub fn write_kubeconfig(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, kubeconfig(&self.url()))
            .with_context(|| format!("failed to write {}", path.display()))?;
        Ok(path)
    }

    /// Returns a kube-rs client for this server.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let config = kube::Config::new(self.url().parse()?);
        Ok(kube::Client::try_from(config)?)
    }
}

/// Returns a kubeconfig that reaches `server` without credentials.
pub fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
    server: {server}
users:
- name: skiff
  user: {{}}
contexts:
- name: skiff
  context:
    cluster: skiff
    user: skiff
current-context: skiff
"
    )
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.kill();
    }
}
