//! Scheduler throughput against the real apiserver. The benchmark creates N
//! nodes (API objects with allocatable set, no kubelet) and M pending pods
//! up front, then starts the scheduler. It reports pods bound per second
//! from the first binding to the last, as seen through a watch.
//!
//! Usage: `scheduler_bench [--nodes N] [--pods M]`. Without `--nodes` it
//! runs N = 100, 1000 and 5000 with M = 10 x N, at most 30000. The apiserver
//! is `$SKIFF_BIN` or the `skiff` binary of the same build profile. The
//! result is a Markdown table on stdout; progress goes to stderr.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Requests sent to the apiserver at once while creating objects.
const CREATE_CONCURRENCY: usize = 64;
const MAX_PODS: usize = 30_000;
const BIND_TIMEOUT: Duration = Duration::from_secs(600);
/// kube-scheduler's throughput floor in its own 5000-node benchmark.
const REFERENCE_PODS_PER_SECOND: u32 = 700;

#[tokio::main]
async fn main() -> Result<()> {
    let (nodes, pods) = parse_args()?;
    let cases: Vec<(usize, usize)> = match nodes {
        Some(nodes) => vec![(nodes, pods.unwrap_or((nodes * 10).min(MAX_PODS)))],
        None => [100, 1000, 5000]
            .into_iter()
            .map(|nodes| (nodes, (nodes * 10).min(MAX_PODS)))
            .collect(),
    };
    println!("### Scheduler throughput\n");
    println!(
        "N nodes (API objects with allocatable, no kubelet) and M pending pods are created \
         in a `skiff apiserver` process first; then the in-process scheduler binds them. \
         The rate runs from the first binding seen by a pod watch to the last. The \
         reference is a fixed number, not measured here: kube-scheduler's benchmark floor \
         of about {REFERENCE_PODS_PER_SECOND} pods/s at 5000 nodes.\n"
    );
    println!(
        "| nodes | pods | seconds | pods/s | pods/s / {REFERENCE_PODS_PER_SECOND} (fixed reference) |"
    );
    println!("|---|---|---|---|---|");
    let mut behind = Vec::new();
    for (nodes, pods) in cases {
        let result = run_case(nodes, pods).await?;
        let rate = pods as f64 / result.as_secs_f64().max(1e-9);
        println!(
            "| {nodes} | {pods} | {:.2} | {rate:.0} | {:.2} |",
            result.as_secs_f64(),
            rate / REFERENCE_PODS_PER_SECOND as f64
        );
        if nodes >= 5000 && rate < REFERENCE_PODS_PER_SECOND as f64 {
            behind.push(format!("{rate:.0} pods/s at {nodes} nodes"));
        }
    }
    if !behind.is_empty() {
        println!(
            "\n**Behind the reference:** {} is below kube-scheduler's floor of \
             {REFERENCE_PODS_PER_SECOND} pods/s.",
            behind.join(", ")
        );
    }
    Ok(())
}

fn parse_args() -> Result<(Option<usize>, Option<usize>)> {
    let mut nodes = None;
    let mut pods = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        let number: usize = value
            .parse()
            .with_context(|| format!("invalid {arg} {value:?}: expected a count"))?;
        match arg.as_str() {
            "--nodes" => nodes = Some(number),
            "--pods" => pods = Some(number),
            other => bail!("unknown argument {other:?}; expected --nodes N or --pods M"),
        }
    }
    Ok((nodes, pods))
}

/// Returns the time from the first to the last observed binding.
async fn run_case(node_count: usize, pod_count: usize) -> Result<Duration> {
    let apiserver = Apiserver::start().await?;
    let client = apiserver.client.clone();
    create_nodes(&client, node_count).await?;
    create_pods(&client, pod_count).await?;
    eprintln!("created {node_count} nodes and {pod_count} pods; scheduling");

    let watch = tokio::spawn(time_bindings(client.clone(), pod_count));
    let shutdown = CancellationToken::new();
    let scheduler = tokio::spawn(skiff_scheduler::run(
        client,
        skiff_scheduler::Config::default(),
        shutdown.clone(),
    ));
    let elapsed = tokio::time::timeout(BIND_TIMEOUT, watch)
        .await
        .context("pods not all bound in time")???;
    shutdown.cancel();
    scheduler.await??;
    Ok(elapsed)
}

async fn create_nodes(client: &Client, count: usize) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    futures::stream::iter(0..count)
        .map(|index| {
            let nodes = nodes.clone();
            async move {
                let name = format!("bench-node-{index}");
                let status = json!({
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                });
                let node: Node = serde_json::from_value(json!({
                    "metadata": {"name": name,
                        "labels": {"kubernetes.io/hostname": name}},
                    "status": status.clone(),
                }))?;
                nodes.create(&PostParams::default(), &node).await?;
                let patch = json!({"status": status});
                nodes
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<()>()
        .await
}

async fn create_pods(client: &Client, count: usize) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    futures::stream::iter(0..count)
        .map(|index| {
            let pods = pods.clone();
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("bench-pod-{index}")},
                    "spec": {"containers": [{
                        "name": "app", "image": "busybox",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    }]},
                }))?;
                pods.create(&PostParams::default(), &pod).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Watches pods and returns the time between the first and the last pod
/// seen with `spec.nodeName` set.
async fn time_bindings(client: Client, pod_count: usize) -> Result<Duration> {
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut bound = HashSet::new();
    let mut first = None;
    let stream = watcher(pods, watcher::Config::default()).applied_objects();
    let mut stream = std::pin::pin!(stream);
    while let Some(pod) = stream.try_next().await? {
        if pod.spec.and_then(|spec| spec.node_name).is_none() {
            continue;
        }
        let started = *first.get_or_insert_with(Instant::now);
        bound.insert(pod.metadata.name.unwrap_or_default());
        if bound.len() == pod_count {
            return Ok(started.elapsed());
        }
    }
    bail!("the pod watch ended after {} bindings", bound.len())
}

/// The apiserver process with its data directory.
struct Apiserver {
    client: Client,
    child: Child,
    _data_dir: tempfile::TempDir,
}

impl Apiserver {
    async fn start() -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let binary = skiff_binary()?;
        let child = Command::new(&binary)
            .args(["apiserver", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("failed to start {}", binary.display()))?;
        let url = format!("http://127.0.0.1:{port}").parse()?;
        let client = Client::try_from(kube::Config::new(url))?;
        let apiserver = Self {
            client,
            child,
            _data_dir: data_dir,
        };
        let nodes: Api<Node> = Api::all(apiserver.client.clone());
        let deadline = Instant::now() + Duration::from_secs(60);
        while nodes.list(&ListParams::default().limit(1)).await.is_err() {
            if Instant::now() > deadline {
                bail!("the apiserver on port {port} did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(apiserver)
    }
}

impl Drop for Apiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skiff_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("SKIFF_BIN") {
        return Ok(PathBuf::from(path));
    }
    // Examples live in target/<profile>/examples/.
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|examples| examples.parent())
        .context("the benchmark binary is not inside target/<profile>/examples")?;
    Ok(profile_dir.join("skiff"))
}
