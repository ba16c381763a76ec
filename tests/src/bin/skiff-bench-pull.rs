//! `skiff-bench-pull`: pull throughput of the shim's image store against
//! `skopeo copy` plus `umoci unpack` of the same image from the same local
//! registry. Prints a Markdown section for BENCHMARKS.md on stdout.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use skiff_e2e::registry::Registry;
use skiff_runtime_shim::image::{Credentials, ImageStore};

#[derive(Parser)]
#[command(about = "Image pull throughput: skiff's store against skopeo + umoci")]
struct Cli {
    /// Layers of random (incompressible) data in the benchmark image.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Size of each layer's data file, in MiB.
    #[arg(long, default_value_t = 16)]
    layer_mib: usize,
    /// Pulls per tool; the table shows the median.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let work = tempfile::Builder::new()
        .prefix("skiff-bench-pull-")
        .tempdir()?;
    let registry = Registry::start()?;
    let reference = format!("{}/skiff-bench/random:1", registry.host());
    let bytes = build_and_push(work.path(), &reference, cli.layers, cli.layer_mib)?;

    let mut skiff = Vec::new();
    let mut skopeo = Vec::new();
    for run in 0..cli.runs {
        let root = work.path().join(format!("skiff-{run}"));
        let started = Instant::now();
        let store = ImageStore::open(root.clone())?;
        store.pull(&reference, &Credentials::Anonymous).await?;
        skiff.push(started.elapsed());
        fs::remove_dir_all(&root)?;

        let dir = work.path().join(format!("skopeo-{run}"));
        let started = Instant::now();
        skopeo_and_umoci(&dir, &reference)?;
        skopeo.push(started.elapsed());
        fs::remove_dir_all(&dir)?;
    }

    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "### Image pull, {} layers of {} MiB random data ({mib:.1} MiB compressed), median of {} runs\n",
        cli.layers, cli.layer_mib, cli.runs
    );
    println!("| tool | median s | MiB/s |");
    println!("|---|---|---|");
    for (name, times) in [
        ("skiff image store (pull + unpack)", skiff),
        ("skopeo copy + umoci unpack", skopeo),
    ] {
        let median = median(times);
        println!(
            "| {name} | {:.2} | {:.1} |",
            median.as_secs_f64(),
            mib / median.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}

/// Builds an image of random-data layers with umoci, pushes it and returns
/// the compressed size of its layers.
fn build_and_push(work: &Path, reference: &str, layers: usize, layer_mib: usize) -> Result<u64> {
    let layout = work.join("layout");
    let image = format!("{}:random", layout.display());
    run(Command::new("umoci")
        .arg("init")
        .arg("--layout")
        .arg(&layout))?;
    run(Command::new("umoci").args(["new", "--image", &image]))?;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for layer in 0..layers {
        let bundle = work.join("bundle");
        run(Command::new("umoci")
            .args(["unpack", "--image", &image])
            .arg(&bundle))?;
        let data = random_bytes(&mut seed, layer_mib * 1024 * 1024);
        fs::write(bundle.join(format!("rootfs/data-{layer}")), data)?;
        run(Command::new("umoci")
            .args(["repack", "--image", &image])
            .arg(&bundle))?;
        fs::remove_dir_all(&bundle)?;
    }
    run(Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{image}"))
        .arg(format!("docker://{reference}")))?;
    let mut total = 0;
    for entry in fs::read_dir(layout.join("blobs/sha256"))? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

fn skopeo_and_umoci(dir: &Path, reference: &str) -> Result<()> {
    let layout = dir.join("layout");
    run(Command::new("skopeo")
        .args(["copy", "--quiet", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:image", layout.display())))?;
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:image", layout.display()))
        .arg(dir.join("bundle")))
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

fn run(command: &mut Command) -> Result<()> {
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
