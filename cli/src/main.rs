//! The `skiff` binary: every component and the user-facing verbs.

mod client;
mod commands;
mod logging;

use clap::{Parser, Subcommand};

/// A Kubernetes-compatible container orchestrator.
#[derive(Parser)]
#[command(name = "skiff", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Kubernetes API server.
    Apiserver(commands::apiserver::Args),
    /// Run the scheduler.
    Scheduler(commands::scheduler::Args),
    /// Run the controller manager.
    ControllerManager(commands::controller_manager::Args),
    /// Run the node agent.
    Kubelet(commands::kubelet::Args),
    /// Run the CRI runtime shim.
    Shim(commands::shim::Args),
    /// Watch one container for the shim (internal).
    #[command(hide = true)]
    ShimMonitor(commands::shim_monitor::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init();
    // The monitor reaps every child with waitpid(-1), so it must not share
    // the process with a Tokio runtime and its child handling.
    let cli = match cli.command {
        Command::ShimMonitor(args) => return commands::shim_monitor::run(args),
        command => Cli { command },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Apiserver(args) => commands::apiserver::run(args).await,
            Command::Scheduler(args) => commands::scheduler::run(args).await,
            Command::ControllerManager(args) => commands::controller_manager::run(args).await,
            Command::Kubelet(args) => commands::kubelet::run(args).await,
            Command::Shim(args) => commands::shim::run(args).await,
            Command::ShimMonitor(args) => commands::shim_monitor::run(args),
        }
    })
}
