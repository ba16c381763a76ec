//! The pull case: PullImage of a multi-MB image over the shim's CRI socket,
//! each run into a fresh shim with an empty image store, against `skopeo
//! copy` plus `umoci unpack` of the same image from the same local registry.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_cri::v1::{ImageSpec, PullImageRequest};

use crate::registry::Registry;
use crate::shim::Shim;

/// Size of the benchmark image and the number of pulls per tool.
#[derive(Clone, Copy, Debug)]
pub struct PullWorkload {
    /// Layers of random (incompressible) data.
    pub layers: usize,
    /// Size of each layer's data file, in MiB.
    pub layer_mib: usize,
    /// Pulls per tool; the table shows the median.
    pub runs: usize,
}

/// Runs both tools `runs` times, alternating, and returns the Markdown section.
pub async fn run(workload: PullWorkload) -> Result<String> {
    let work = tempfile::Builder::new()
        .prefix("skiff-bench-pull-")
        .tempdir()?;
    let registry = Registry::start()?;
    let reference = format!("{}/skiff-bench/random:1", registry.host());
    let bytes = build_and_push(work.path(), &reference, workload.layers, workload.layer_mib)?;

    let mut skiff = Vec::new();
    let mut skopeo = Vec::new();
    for run in 0..workload.runs {
        skiff.push(shim_pull(&reference).await?);
        let dir = work.path().join(format!("skopeo-{run}"));
        let started = Instant::now();
        skopeo_and_umoci(&dir, &reference)?;
        skopeo.push(started.elapsed());
        fs::remove_dir_all(&dir)?;
    }
    Ok(report(workload, bytes, skiff, skopeo))
}

/// Starts a shim with an empty store and times one PullImage through CRI.
async fn shim_pull(reference: &str) -> Result<Duration> {
    let shim = Shim::start().await?;
    let mut client = shim.image_client().await?;
    let started = Instant::now();
    client
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: reference.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .with_context(|| format!("the shim failed to pull {reference}"))?;
    let took = started.elapsed();
    drop(shim);
    Ok(took)
}

fn report(
    workload: PullWorkload,
    bytes: u64,
    skiff: Vec<Duration>,
    skopeo: Vec<Duration>,
) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Image pull, {} layers of {} MiB random data ({mib:.1} MiB compressed), median of {} runs\n\n\
         Every run starts from an empty store. Both tools fetch the same image from one \
         `docker-registry` on 127.0.0.1 and unpack every layer to disk.\n",
        workload.layers, workload.layer_mib, workload.runs
    );
    let _ = writeln!(
        out,
        "| tool | median s | MiB/s | rate / skopeo + umoci rate |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let reference = median(skopeo.clone()).as_secs_f64().max(1e-9);
    let ratio = reference / median(skiff.clone()).as_secs_f64().max(1e-9);
    for (name, times) in [
        ("skiff shim PullImage (CRI)", skiff),
        ("skopeo copy + umoci unpack", skopeo),
    ] {
        let seconds = median(times).as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "| {name} | {seconds:.2} | {:.1} | {:.2} |",
            mib / seconds,
            reference / seconds
        );
    }
    if ratio < 1.0 {
        let _ = writeln!(
            out,
            "\n**Behind the reference:** the shim pulls at {ratio:.2} times the rate of skopeo + umoci."
        );
    }
    out
}

/// Builds an image of random-data layers with umoci, pushes it and returns
/// the compressed size of its layers.
fn build_and_push(work: &Path, reference: &str, layers: usize, layer_mib: usize) -> Result<u64> {
    let layout = work.join("layout");
    let image = format!("{}:random", layout.display());
    execute(
        Command::new("umoci")
            .arg("init")
            .arg("--layout")
            .arg(&layout),
    )?;
    execute(Command::new("umoci").args(["new", "--image", &image]))?;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for layer in 0..layers {
        let bundle = work.join("bundle");
        execute(
            Command::new("umoci")
                .args(["unpack", "--image", &image])
                .arg(&bundle),
        )?;
        let data = random_bytes(&mut seed, layer_mib * 1024 * 1024);
        fs::write(bundle.join(format!("rootfs/data-{layer}")), data)?;
        execute(
            Command::new("umoci")
                .args(["repack", "--image", &image])
                .arg(&bundle),
        )?;
        fs::remove_dir_all(&bundle)?;
    }
    execute(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{image}"))
            .arg(format!("docker://{reference}")),
    )?;
    let mut total = 0;
    for entry in fs::read_dir(layout.join("blobs/sha256"))? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

fn skopeo_and_umoci(dir: &Path, reference: &str) -> Result<()> {
    fs::create_dir_all(dir)?;
    let layout = dir.join("layout");
    execute(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:image", layout.display())),
    )?;
    execute(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:image", layout.display()))
            .arg(dir.join("bundle")),
    )
}

/// Fills a buffer from a xorshift generator: incompressible and fast.
fn random_bytes(state: &mut u64, length: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(length + 8);
    while bytes.len() < length {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(length);
    bytes
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn execute(command: &mut Command) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
