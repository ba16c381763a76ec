//! Helpers shared by the end-to-end tests that run a whole `skiff server`:
//! HTTP checks, polling, the `skiff` CLI and reading pods through kubectl.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use skiff_e2e::cluster::Cluster;
use skiff_e2e::kubectl::{Kubectl, Output};
use skiff_e2e::process::skiff_bin;

/// Sends `GET path` to `host:port` and returns the response body.
pub fn http_get(host: &str, port: u16, path: &str) -> anyhow::Result<String> {
    let mut stream =
        TcpStream::connect_timeout(&format!("{host}:{port}").parse()?, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("HTTP response without a header end")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path} from {host}: {head}");
    }
    Ok(body.to_string())
}

/// Polls `check` every 500 ms until it returns true or `timeout` passes.
pub fn wait_for(
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

/// Runs `skiff ARGS` against `kubeconfig` and returns its output.
pub fn skiff(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<Output> {
    skiff_with_stdin(kubeconfig, args, "")
}

/// Runs `skiff ARGS` against `kubeconfig` with `stdin` as its input.
pub fn skiff_with_stdin(kubeconfig: &Path, args: &[&str], stdin: &str) -> anyhow::Result<Output> {
    let mut child = Command::new(skiff_bin())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("failed to run skiff")?;
    if let Some(mut pipe) = child.stdin.take() {
        // skiff may exit before reading stdin, which closes the pipe.
        match pipe.write_all(stdin.as_bytes()) {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(error.into());
            }
            _ => {}
        }
    }
    let output = child.wait_with_output()?;
    Ok(Output {
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        code: output.status.code().unwrap_or(-1),
    })
}

/// Runs `skiff ARGS` against `cluster`, failing with both streams unless it exits 0.
pub fn skiff_ok(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    skiff(&cluster.kubeconfig(), args)?
        .ok()
        .with_context(|| format!("skiff {}", args.join(" ")))
}

/// A pod as the tests look at it.
#[derive(Clone, Debug)]
pub struct PodView {
    pub name: String,
    pub ip: String,
    pub image: String,
    pub ready: bool,
    pub restarts: i64,
    /// The first container's id without its `runtime://` prefix.
    pub container_id: String,
}

/// Returns the pods matching `selector` that are not being deleted.
pub fn pods(kubectl: &Kubectl, selector: &str) -> anyhow::Result<Vec<PodView>> {
    let output = kubectl
        .run(&["get", "pods", "-l", selector, "-o", "json"])?
        .ok()?;
    let list: serde_json::Value = serde_json::from_str(&output)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(pod_view)
        .collect())
}

fn pod_view(pod: &serde_json::Value) -> PodView {
    let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
    let conditions = pod["status"]["conditions"].as_array();
    let ready = conditions
        .into_iter()
        .flatten()
        .any(|condition| condition["type"] == "Ready" && condition["status"] == "True");
    let status = &pod["status"]["containerStatuses"][0];
    let container_id = text(&status["containerID"]);
    PodView {
        name: text(&pod["metadata"]["name"]),
        ip: text(&pod["status"]["podIP"]),
        image: text(&pod["spec"]["containers"][0]["image"]),
        ready,
        restarts: status["restartCount"].as_i64().unwrap_or(0),
        container_id: container_id
            .split_once("://")
            .map_or(container_id.clone(), |(_, id)| id.to_string()),
    }
}

/// Returns the PID that `runc state` reports for container `id` of `cluster`.
pub fn runc_pid(cluster: &Cluster, id: &str) -> anyhow::Result<i64> {
    let output = Command::new("runc")
        .arg("--root")
        .arg(cluster.runc_root())
        .args(["state", id])
        .output()
        .context("running runc state")?;
    anyhow::ensure!(
        output.status.success(),
        "runc state {id} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let state: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    state["pid"].as_i64().context("runc state without a pid")
}
