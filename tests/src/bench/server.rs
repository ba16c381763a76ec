//! The `skiff server` case: cold start from a fresh data directory to the
//! API returning 200 on `/readyz` and to the first pod Running, then the idle cost
//! of the server with one node and that one pod over a fixed window.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use super::procfs::{self, Sample};
use crate::cluster::Cluster;
use crate::images;
use crate::process::skiff_bin;
use crate::registry::Registry;

/// How long the server may take to serve `/readyz` or run the first pod.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between the first pod Running and the idle window, so start-up
/// work (image unpacking, the first status updates) is not counted as idle.
const SETTLE: Duration = Duration::from_secs(5);

/// Cold start and idle figures of one server.
struct ServerResults {
    to_ready: Duration,
    to_first_pod: Duration,
    idle: Duration,
    processes: usize,
    rss: u64,
    cpu_share: f64,
    write_rate: f64,
}

/// Measures one cold start and an idle window of `idle`, and returns the
/// Markdown section.
pub async fn run(idle: Duration) -> anyhow::Result<String> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?.reference;
    let started = Instant::now();
    let cluster = Cluster::launch()?;
    let result = measure(&cluster, &image, started, idle).await;
    tokio::task::block_in_place(|| drop(cluster));
    Ok(report(&result?))
}

async fn measure(
    cluster: &Cluster,
    image: &str,
    started: Instant,
    idle: Duration,
) -> anyhow::Result<ServerResults> {
    wait_readyz(cluster).await?;
    let to_ready = started.elapsed();
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse()?))?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "bench-first"},
        "spec": {"containers": [{
            "name": "app", "image": image, "command": ["sleep", "3600"],
        }]},
    }))?;
    // The default service account and namespace may still be in creation.
    let deadline = Instant::now() + START_TIMEOUT;
    while let Err(error) = pods.create(&PostParams::default(), &pod).await {
        anyhow::ensure!(
            Instant::now() < deadline,
            "creating the first pod failed: {error}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_running(&pods, "bench-first", deadline).await?;
    let to_first_pod = started.elapsed();

    tokio::time::sleep(SETTLE).await;
    let pid = cluster.pid().context("the server is not running")?;
    let marker = cluster.data_dir.display().to_string();
    let before = sample_group(pid, &marker);
    tokio::time::sleep(idle).await;
    let after = sample_group(pid, &marker);
    let seconds = idle.as_secs_f64();
    // Only processes alive at both ends count towards the rates.
    let alive = |pid: &u32| {
        before.iter().any(|(other, _)| other == pid) && after.iter().any(|(other, _)| other == pid)
    };
    let mut cpu = 0.0;
    let mut written = 0.0;
    for (pid, end) in after.iter().filter(|(pid, _)| alive(pid)) {
        if let Some((_, start)) = before.iter().find(|(other, _)| other == pid) {
            cpu += end.cpu_seconds - start.cpu_seconds;
            written += end.write_bytes.saturating_sub(start.write_bytes) as f64;
        }
    }
    Ok(ServerResults {
        to_ready,
        to_first_pod,
        idle,
        processes: after.len(),
        rss: after.iter().map(|(_, sample)| sample.rss).sum(),
        cpu_share: cpu / seconds,
        write_rate: written / seconds,
    })
}

/// Samples every process of the server: the `skiff` executable in its
/// process tree or started for its data directory (shim monitors).
fn sample_group(root: u32, marker: &str) -> Vec<(u32, Sample)> {
    let binary = std::fs::canonicalize(skiff_bin()).unwrap_or_else(|_| skiff_bin());
    procfs::process_group(root, marker)
        .into_iter()
        .filter(|&pid| procfs::executable(pid).is_some_and(|exe| exe == binary))
        .filter_map(|pid| Some((pid, procfs::sample(pid)?)))
        .collect()
}

async fn wait_readyz(cluster: &Cluster) -> anyhow::Result<()> {
    let url = format!("{}/readyz", cluster.url());
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let probe = tokio::task::spawn_blocking({
            let port = cluster.port;
            move || readyz_status(port)
        })
        .await?;
        if probe == Some(200) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{url} did not return 200 within {START_TIMEOUT:?}; log:\n{}",
            cluster.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `GET /readyz` and returns the status code, or `None` when no reply arrives.
fn readyz_status(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_running(pods: &Api<Pod>, name: &str, deadline: Instant) -> anyhow::Result<()> {
    loop {
        let phase = pods
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|pod| pod.status?.phase);
        if phase.as_deref() == Some("Running") {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "pod {name} was not Running within {START_TIMEOUT:?} (phase {phase:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report(results: &ServerResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### `skiff server` cold start and idle cost\n\n\
         Cold start runs from spawning `skiff server` on a fresh data directory. The first \
         pod is created as soon as `/readyz` returns 200, so its time includes node \
         registration, scheduling and pulling busybox (about 1 MiB) from a registry on \
         127.0.0.1. The reference figures are fixed numbers, not measured here: kind \
         creates a ready cluster in about 12-17 s, kwok in about 5 s, and an idle k3s \
         server uses 0.5-1.6 GB of memory.\n"
    );
    let _ = writeln!(
        out,
        "| measure | skiff | reference (fixed) | skiff / reference |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let ready = results.to_ready.as_secs_f64();
    let first = results.to_first_pod.as_secs_f64();
    let _ = writeln!(
        out,
        "| cold start to `/readyz` 200 | {ready:.2} s | kwok about 5 s | {:.2} |",
        ready / 5.0
    );
    let _ = writeln!(
        out,
        "| cold start to first pod Running | {first:.2} s | kind 12-17 s to a ready cluster | {:.2}-{:.2} |",
        first / 17.0,
        first / 12.0
    );
    let rss_mib = results.rss as f64 / (1024.0 * 1024.0);
    let _ = writeln!(
        out,
        "| idle resident memory, {} processes | {rss_mib:.1} MiB | k3s server 0.5-1.6 GB | {:.3}-{:.3} |",
        results.processes,
        rss_mib / 1600.0,
        rss_mib / 500.0
    );
    let _ = writeln!(
        out,
        "| idle CPU, share of one core over {} s | {:.2} % | none | |",
        results.idle.as_secs(),
        results.cpu_share * 100.0
    );
    let _ = writeln!(
        out,
        "| idle disk writes (write_bytes) | {:.1} KiB/s | none | |",
        results.write_rate / 1024.0
    );
    out
}
