//! `skiff-bench`: the benchmarks behind `make bench`. Each case prints a
//! Markdown section for BENCHMARKS.md on stdout.

use std::time::Duration;

use clap::{Parser, Subcommand};
use skiff_e2e::bench::pull::PullWorkload;
use skiff_e2e::bench::store::Workload;
use skiff_e2e::bench::{apiserver, kubelet, pull, runtime, server};

#[derive(Parser)]
#[command(about = "Benchmarks of skiff, printed as Markdown")]
struct Cli {
    #[command(subcommand)]
    case: Case,
}

#[derive(Subcommand)]
enum Case {
    /// Creates, gets, lists and watch fan-out through the apiserver and on the raw store.
    Apiserver {
        /// Pods to create and read back; they stay stored for the memory figure.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Requests in flight at once during creates and gets.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Lists of 500 objects, sent one at a time.
        #[arg(long, default_value_t = 200)]
        lists: usize,
        /// Concurrent watchers during the fan-out measurement.
        #[arg(long, default_value_t = 1000)]
        watchers: usize,
        /// Writes every watcher must receive.
        #[arg(long, default_value_t = 100)]
        events: usize,
    },
    /// Pod sandbox plus one container: the shim and containerd over CRI, and raw runc.
    Runtime {
        /// Timed runs per runtime.
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Image pull: the shim's PullImage against skopeo copy plus umoci unpack.
    Pull {
        /// Layers of random (incompressible) data in the benchmark image.
        #[arg(long, default_value_t = 4)]
        layers: usize,
        /// Size of each layer's data file, in MiB.
        #[arg(long, default_value_t = 16)]
        layer_mib: usize,
        /// Pulls per tool; the table shows the median.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Pod create-to-Ready through a `skiff server`, beside the shim alone.
    Kubelet {
        /// Pods to time.
        #[arg(long, default_value_t = 100)]
        pods: usize,
        /// Pods created but not yet Ready at any moment.
        #[arg(long, default_value_t = 5)]
        in_flight: usize,
        /// Timed runs of the shim-only reference.
        #[arg(long, default_value_t = 20)]
        shim_runs: usize,
    },
    /// `skiff server` cold start and idle resource use.
    Server {
        /// Length of the idle window, in seconds.
        #[arg(long, default_value_t = 60)]
        idle_seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    raise_open_file_limit();
    let section = match Cli::parse().case {
        Case::Apiserver {
            count,
            concurrency,
            lists,
            watchers,
            events,
        } => {
            apiserver::run(Workload {
                count,
                concurrency,
                lists,
                watchers,
                events,
            })
            .await?
        }
        Case::Runtime { runs } => runtime::report(&runtime::measure(runs).await?),
        Case::Pull {
            layers,
            layer_mib,
            runs,
        } => {
            pull::run(PullWorkload {
                layers,
                layer_mib,
                runs,
            })
            .await?
        }
        Case::Kubelet {
            pods,
            in_flight,
            shim_runs,
        } => kubelet::run(pods, in_flight, shim_runs).await?,
        Case::Server { idle_seconds } => server::run(Duration::from_secs(idle_seconds)).await?,
    };
    print!("{section}");
    Ok(())
}

/// Raises the open-file limit to its hard maximum, because the fan-out case
/// keeps one connection per watcher in this process and in the apiserver
/// (which inherits the limit).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
