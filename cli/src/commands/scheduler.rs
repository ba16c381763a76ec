//! `skiff scheduler`: the scheduler alone.

use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the apiserver to use; defaults to $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Schedule pods whose spec.schedulerName is this name.
    #[arg(long, default_value = skiff_scheduler::DEFAULT_SCHEDULER_NAME)]
    scheduler_name: String,
    /// Percentage of nodes to find feasible before scoring (1-100); by
    /// default it adapts to the cluster size as kube-scheduler does.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    percentage_of_nodes_to_score: Option<u32>,
    /// Threads that filter and score nodes; defaults to the number of CPUs.
    #[arg(long)]
    parallelism: Option<usize>,
    /// Binding requests in flight at once.
    #[arg(long, default_value_t = 64)]
    max_concurrent_bindings: usize,
    /// Seconds before the first retry of a pod that failed.
    #[arg(long, default_value_t = 1)]
    pod_initial_backoff_seconds: u64,
    /// Upper bound of the retry wait, in seconds.
    #[arg(long, default_value_t = 10)]
    pod_max_backoff_seconds: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::client::from_kubeconfig(args.kubeconfig.as_deref()).await?;
    let mut config = skiff_scheduler::Config {
        scheduler_name: args.scheduler_name,
        initial_backoff: Duration::from_secs(args.pod_initial_backoff_seconds),
        max_backoff: Duration::from_secs(args.pod_max_backoff_seconds),
        max_concurrent_bindings: args.max_concurrent_bindings,
        ..Default::default()
    };
    config.search.percentage_of_nodes_to_score = args.percentage_of_nodes_to_score;
    if let Some(parallelism) = args.parallelism {
        config.search.parallelism = parallelism.max(1);
    }
    skiff_scheduler::run(client, config, super::signals::shutdown_token()).await?;
    Ok(())
}
