//! `skiff exec`: run a command in a running container.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};

use super::Target;
use super::terminal::{self, ExitCode};

#[derive(clap::Args)]
pub struct Args {
    /// Pod name.
    pod: String,
    /// Container name; defaults to the pod's first container.
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Pass stdin to the command.
    #[arg(short = 'i', long)]
    stdin: bool,
    /// Allocate a terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let params = AttachParams {
        container: args.container.clone(),
        stdin: args.stdin,
        stdout: true,
        stderr: !args.tty,
        tty: args.tty,
        ..AttachParams::default()
    };
    let process = pods
        .exec(&args.pod, args.command.clone(), &params)
        .await
        .map_err(super::explain)?;
    let code = terminal::run(process, args.tty).await?;
    if code != 0 {
        return Err(ExitCode(code).into());
    }
    Ok(())
}
