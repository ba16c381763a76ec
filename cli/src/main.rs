//! The `skiff` binary: every component and the user-facing verbs.

mod client;
mod commands;
mod kubeconfig;
mod logging;
mod verbs;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the apiserver builds and drops
/// many small JSON values per request, where glibc's malloc spent about
/// half of a list's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Kubernetes-compatible container orchestrator.
#[derive(Parser)]
#[command(name = "skiff", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane and a local node in one process.
    Server(commands::server::Args),
    /// Run a node that joins an existing control plane.
    Agent(commands::agent::Args),
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
    /// List or show objects.
    Get(verbs::get::Args),
    /// Create or update objects from manifests (server-side apply).
    Apply(verbs::apply::Args),
    /// Delete objects.
    Delete(verbs::delete::Args),
    /// Set the replica count of a Deployment or ReplicaSet.
    Scale(verbs::scale::Args),
    /// Manage Deployment rollouts.
    Rollout(verbs::rollout::Args),
    /// Print a container's log.
    Logs(verbs::logs::Args),
    /// Run a command in a container.
    Exec(verbs::exec::Args),
    /// Show an object and its events.
    Describe(verbs::describe::Args),
    /// List events.
    Events(verbs::describe::EventsArgs),
    /// Run an image as a Deployment or, with --restart Never, as a Pod.
    Run(verbs::run::Args),
    /// List containers.
    Ps(verbs::ps::Args),
    /// Pull an image into the local node's store.
    Pull(verbs::pull::Args),
    /// List the images in the local node's store.
    Images(verbs::images::Args),
    /// Stop Deployments made by `skiff run` (scale to zero).
    Stop(verbs::lifecycle::Args),
    /// Start stopped Deployments again.
    Start(verbs::lifecycle::Args),
    /// Remove Deployments or Pods.
    Rm(verbs::lifecycle::Args),
    /// Watch one container for the shim (internal).
    #[command(hide = true)]
    ShimMonitor(commands::shim_monitor::Args),
}

impl Command {
    /// Returns whether this is a user-facing verb rather than a long-running
    /// component.
    fn is_verb(&self) -> bool {
        !matches!(
            self,
            Command::Server(_)
                | Command::Agent(_)
                | Command::Apiserver(_)
                | Command::Scheduler(_)
                | Command::ControllerManager(_)
                | Command::Kubelet(_)
                | Command::Shim(_)
                | Command::ShimMonitor(_)
        )
    }
}

/// Lets a verb whose output goes to a closed pipe (`skiff get pods | head`)
/// end quietly, as Unix tools do, instead of panicking in `println!`. Rust
/// ignores SIGPIPE by default; the components keep that, because a client
/// that hangs up must not end a server.
fn restore_sigpipe() {
    // SAFETY: resetting a signal to its default action has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // A remote command's exit code becomes ours, as with kubectl exec.
            if let Some(verbs::terminal::ExitCode(code)) = error.downcast_ref() {
                eprintln!("command terminated with exit code {code}");
                return std::process::ExitCode::from(u8::try_from(*code).unwrap_or(1));
            }
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // The monitor reaps every child with waitpid(-1), so it must not share
    // the process with a Tokio runtime and its child handling.
    let cli = match cli.command {
        Command::ShimMonitor(args) => return commands::shim_monitor::run(args),
        command => Cli { command },
    };
    if cli.command.is_verb() {
        restore_sigpipe();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => commands::server::run(args).await,
            Command::Agent(args) => commands::agent::run(args).await,
            Command::Apiserver(args) => commands::apiserver::run(args).await,
            Command::Scheduler(args) => commands::scheduler::run(args).await,
            Command::ControllerManager(args) => commands::controller_manager::run(args).await,
            Command::Kubelet(args) => commands::kubelet::run(args).await,
            Command::Shim(args) => commands::shim::run(args).await,
            Command::Get(args) => verbs::get::run(args).await,
            Command::Apply(args) => verbs::apply::run(args).await,
            Command::Delete(args) => verbs::delete::run(args).await,
            Command::Scale(args) => verbs::scale::run(args).await,
            Command::Rollout(args) => verbs::rollout::run(args).await,
            Command::Logs(args) => verbs::logs::run(args).await,
            Command::Exec(args) => verbs::exec::run(args).await,
            Command::Describe(args) => verbs::describe::run(args).await,
            Command::Events(args) => verbs::describe::events(args).await,
            Command::Run(args) => verbs::run::run(args).await,
            Command::Ps(args) => verbs::ps::run(args).await,
            Command::Pull(args) => verbs::pull::run(args).await,
            Command::Images(args) => verbs::images::run(args).await,
            Command::Stop(args) => verbs::lifecycle::run(verbs::lifecycle::Verb::Stop, args).await,
            Command::Start(args) => {
                verbs::lifecycle::run(verbs::lifecycle::Verb::Start, args).await
            }
            Command::Rm(args) => verbs::lifecycle::run(verbs::lifecycle::Verb::Remove, args).await,
            Command::ShimMonitor(_) => unreachable!("the monitor runs without a Tokio runtime"),
        }
    })
}
