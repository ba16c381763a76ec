//! `skiff-bench-pull`: the pull case of `skiff-bench` on its own. Prints a
//! Markdown section for BENCHMARKS.md on stdout.

use clap::Parser;
use skiff_e2e::bench::pull::{self, PullWorkload};

#[derive(Parser)]
#[command(about = "Image pull throughput: the shim's PullImage against skopeo + umoci")]
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
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let section = pull::run(PullWorkload {
        layers: cli.layers,
        layer_mib: cli.layer_mib,
        runs: cli.runs,
    })
    .await?;
    print!("{section}");
    Ok(())
}
