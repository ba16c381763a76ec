//! `skiff logs`: print or follow a container's log.

use futures::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::Target;

#[derive(clap::Args)]
pub struct Args {
    /// Pod name.
    pod: String,
    /// Container name; defaults to the pod's only container.
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Keep streaming new lines.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Print the log of the previous, terminated instance.
    #[arg(short = 'p', long)]
    previous: bool,
    /// Print only the last N lines.
    #[arg(long)]
    tail: Option<i64>,
    /// Prefix each line with its RFC 3339 timestamp.
    #[arg(long)]
    timestamps: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let params = LogParams {
        container: args.container.clone(),
        follow: args.follow,
        previous: args.previous,
        tail_lines: args.tail,
        timestamps: args.timestamps,
        ..LogParams::default()
    };
    let stream = pods
        .log_stream(&args.pod, &params)
        .await
        .map_err(super::explain)?;
    let mut lines = stream.lines();
    use futures::TryStreamExt;
    while let Some(line) = lines.try_next().await? {
        println!("{line}");
    }
    Ok(())
}
