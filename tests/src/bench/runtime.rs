//! The runtime case: a pod sandbox plus one busybox `sleep` container from
//! RunPodSandbox to a started container, through our shim's CRI socket and
//! through containerd's CRI plugin, beside `runc run --detach` of a busybox
//! bundle running the same command.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use serde_json::json;
use tonic::transport::Channel;

use super::Summary;
use crate::images;
use crate::node::{CriRuntime, RuntimeKind, remove_cgroup_tree, suffix};
use crate::registry::Registry;
use crate::shim::{busybox_rootfs, connect};

/// Latencies of each runtime, for the report and for the kubelet case.
pub struct RuntimeResults {
    pub runs: usize,
    pub shim: Summary,
    pub containerd: Summary,
    pub runc: Summary,
}

/// Measures every runtime `runs` times and returns the results.
pub async fn measure(runs: usize) -> anyhow::Result<RuntimeResults> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?.reference;
    let shim = measure_cri(RuntimeKind::Shim, &registry, &busybox, runs).await?;
    let containerd = measure_cri(RuntimeKind::Containerd, &registry, &busybox, runs).await?;
    let runc = measure_runc(runs)?;
    Ok(RuntimeResults {
        runs,
        shim,
        containerd,
        runc,
    })
}

/// Formats the results as a Markdown section.
pub fn report(results: &RuntimeResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Pod sandbox plus one container, create to running\n\n\
         {} runs each after one untimed warm-up, image already pulled. CRI runtimes: \
         RunPodSandbox (with CNI bridge networking), CreateContainer and StartContainer \
         of busybox `sleep 3600`. runc: `runc run --detach` of a busybox bundle running \
         the same command, with no network setup.\n",
        results.runs
    );
    let _ = writeln!(out, "| runtime | p50 ms | p99 ms | p50 / runc p50 |");
    let _ = writeln!(out, "|---|---|---|---|");
    let reference = results.runc.p50.as_secs_f64().max(1e-9);
    for (name, summary) in [
        ("skiff shim (CRI)", &results.shim),
        ("containerd 1.6 (CRI)", &results.containerd),
        ("runc run --detach", &results.runc),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.1} | {:.1} | {:.2} |",
            summary.p50.as_secs_f64() * 1000.0,
            summary.p99.as_secs_f64() * 1000.0,
            summary.p50.as_secs_f64() / reference
        );
    }
    let shim = results.shim.p50.as_secs_f64();
    let containerd = results.containerd.p50.as_secs_f64().max(1e-9);
    let ratio = shim / containerd;
    let verdict = if ratio > 1.0 {
        "**Behind the reference:** the shim is slower than containerd"
    } else {
        "The shim is faster than containerd"
    };
    let _ = writeln!(out, "\n{verdict} (shim p50 / containerd p50 = {ratio:.2}).");
    out
}

/// Starts a runtime of `kind` and times `runs` sandboxes with one container.
pub async fn measure_cri(
    kind: RuntimeKind,
    registry: &Registry,
    image: &str,
    runs: usize,
) -> anyhow::Result<Summary> {
    let runtime = CriRuntime::start(kind, registry)?;
    let channel = connect(runtime.socket()).await?;
    let mut images = ImageServiceClient::new(channel.clone());
    images
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .with_context(|| format!("{kind:?} failed to pull {image}"))?;
    let mut client = RuntimeServiceClient::new(channel);
    let cgroup_root = format!("/skiff-bench-{}", suffix());
    let logs = runtime.dir().join("bench-logs");
    let mut latencies = Vec::with_capacity(runs);
    let mut elapsed = Duration::ZERO;
    let result: anyhow::Result<()> = async {
        for run in 0..=runs {
            let name = format!("bench-{run}");
            let sandbox = sandbox_config(&name, &logs.join(&name), &cgroup_root);
            let started = Instant::now();
            let id = start_pod(&mut client, &sandbox, image).await?;
            let took = started.elapsed();
            // Run 0 warms caches (and containerd's pause image) untimed.
            if run > 0 {
                latencies.push(took);
                elapsed += took;
            }
            remove_pod(&mut client, &id).await?;
        }
        Ok(())
    }
    .await;
    drop(runtime);
    remove_cgroup_tree(&cgroup_root);
    result.with_context(|| format!("{kind:?} sandbox runs failed"))?;
    Ok(Summary::from_latencies(latencies, elapsed))
}

fn sandbox_config(name: &str, log_dir: &Path, cgroup_root: &str) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.to_string(),
            uid: format!("uid-{name}-{}", suffix()),
            namespace: "default".to_string(),
            attempt: 0,
        }),
        hostname: name.to_string(),
        log_directory: log_dir.display().to_string(),
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: format!("{cgroup_root}/pod-{name}"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs a sandbox and starts one `sleep` container in it; returns the
/// sandbox id once StartContainer returned.
async fn start_pod(
    client: &mut RuntimeServiceClient<Channel>,
    sandbox: &PodSandboxConfig,
    image: &str,
) -> anyhow::Result<String> {
    std::fs::create_dir_all(&sandbox.log_directory)?;
    let sandbox_id = client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox.clone()),
            runtime_handler: String::new(),
        })
        .await?
        .into_inner()
        .pod_sandbox_id;
    let container = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "sleep".to_string(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        command: vec!["sleep".to_string(), "3600".to_string()],
        log_path: "sleep/0.log".to_string(),
        ..Default::default()
    };
    let container_id = client
        .create_container(CreateContainerRequest {
            pod_sandbox_id: sandbox_id.clone(),
            config: Some(container),
            sandbox_config: Some(sandbox.clone()),
        })
        .await?
        .into_inner()
        .container_id;
    client
        .start_container(StartContainerRequest { container_id })
        .await?;
    Ok(sandbox_id)
}

async fn remove_pod(client: &mut RuntimeServiceClient<Channel>, id: &str) -> anyhow::Result<()> {
    client
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await?;
    client
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await?;
    Ok(())
}

/// Times `runc run --detach` of a busybox bundle, `runs` times after one
/// untimed warm-up, deleting each container afterwards.
pub fn measure_runc(runs: usize) -> anyhow::Result<Summary> {
    let dir = tempfile::Builder::new()
        .prefix("skiff-bench-runc-")
        .tempdir()?;
    let bundle = dir.path().join("bundle");
    busybox_rootfs(&bundle.join("rootfs"))?;
    let state = dir.path().join("state");
    let cgroup_root = format!("/skiff-bench-runc-{}", suffix());
    write_runc_config(&bundle, &cgroup_root)?;
    let mut latencies = Vec::with_capacity(runs);
    let mut elapsed = Duration::ZERO;
    let mut result = Ok(());
    for run in 0..=runs {
        let id = format!("skiff-bench-{}-{run}", suffix());
        let started = Instant::now();
        let outcome = runc(&state, &["run", "--detach", "--bundle"], &bundle, &id);
        let took = started.elapsed();
        let _ = runc(&state, &["delete", "--force"], Path::new(""), &id);
        if let Err(error) = outcome {
            result = Err(error);
            break;
        }
        if run > 0 {
            latencies.push(took);
            elapsed += took;
        }
    }
    remove_cgroup_tree(&cgroup_root);
    result?;
    Ok(Summary::from_latencies(latencies, elapsed))
}

/// Writes config.json: `runc spec` defaults with `sleep 3600`, no terminal and
/// a cgroup below `cgroup_root`.
fn write_runc_config(bundle: &Path, cgroup_root: &str) -> anyhow::Result<()> {
    let output = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(bundle)
        .output()
        .context("running runc spec")?;
    if !output.status.success() {
        bail!(
            "runc spec failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sleep", "3600"]);
    config["linux"]["cgroupsPath"] = json!(format!("{cgroup_root}/bench"));
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

/// Runs `runc --root STATE ARGS [BUNDLE] ID` with stdio detached from ours,
/// because runc hands its stdio to the container.
fn runc(state: &Path, args: &[&str], bundle: &Path, id: &str) -> anyhow::Result<()> {
    let mut command = Command::new("runc");
    command.arg("--root").arg(state).args(args);
    if !bundle.as_os_str().is_empty() {
        command.arg(bundle);
    }
    let log_path = state.with_file_name(format!("runc-{id}.log"));
    let log = std::fs::File::create(&log_path)?;
    let status = command
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .status()
        .context("running runc")?;
    if !status.success() {
        bail!(
            "runc {} {id} failed with {status}: {}",
            args.join(" "),
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }
    Ok(())
}
