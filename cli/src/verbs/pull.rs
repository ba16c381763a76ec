//! `skiff pull`: pull an image into the local node's store, printing each
//! layer's progress the way `docker pull` does.

use std::time::Duration;

use anyhow::Context;
use k8s_cri::v1::{AuthConfig, ImageSpec, ImageStatusRequest, PullImageRequest};

use super::node::{self, NodeTarget};
use super::pull_progress::PullProgress;

/// Interval between two reads of the store while a pull runs.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[derive(clap::Args)]
pub struct Args {
    /// Image to pull, e.g. busybox or 127.0.0.1:5000/web:1.
    image: String,
    /// Print only the image reference when done, without progress.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// User name for the registry.
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the registry password from stdin, like `docker login --password-stdin`.
    #[arg(long, requires = "username")]
    password_stdin: bool,
    #[command(flatten)]
    node: NodeTarget,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        read_password()?
    } else {
        String::new()
    };
    let runtime = args.node.connect().await?;
    let store = node::image_store(&args.node.data_dir());
    let mut progress = PullProgress::new(&store);
    let request = PullImageRequest {
        image: Some(ImageSpec {
            image: args.image.clone(),
            ..ImageSpec::default()
        }),
        auth: args.username.as_ref().map(|username| AuthConfig {
            username: username.clone(),
            password,
            ..AuthConfig::default()
        }),
        sandbox_config: None,
    };
    if !args.quiet {
        println!("Pulling {}", args.image);
    }
    let mut images = runtime.images.clone();
    let mut pull = tokio::spawn(async move { images.pull_image(request).await });
    let result = loop {
        tokio::select! {
            joined = &mut pull => break joined.context("the pull task failed")?,
            () = tokio::time::sleep(POLL_INTERVAL) => {
                if !args.quiet {
                    progress.poll();
                }
            }
        }
    };
    let image_id = match result {
        Ok(response) => response.into_inner().image_ref,
        Err(status) if status.code() == tonic::Code::NotFound => {
            anyhow::bail!("image not found: {}", args.image)
        }
        Err(status) => anyhow::bail!("{}", status.message()),
    };
    if args.quiet {
        println!("{}", args.image);
        return Ok(());
    }
    print_summary(runtime, &args.image, &image_id, &mut progress).await
}

/// Reads the password from stdin without its trailing line break.
fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("failed to read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("missing password: --password-stdin read an empty line from stdin");
    }
    Ok(password)
}

/// Prints the layers the watcher missed, then the digest and status lines.
async fn print_summary(
    mut runtime: skiff_kubelet::cri::Runtime,
    image: &str,
    image_id: &str,
    progress: &mut PullProgress,
) -> anyhow::Result<()> {
    let status = runtime
        .images
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: image_id.to_string(),
                ..ImageSpec::default()
            }),
            verbose: true,
        })
        .await
        .map_err(|status| anyhow::anyhow!("reading image status failed: {}", status.message()))?
        .into_inner();
    let details: serde_json::Value = status
        .info
        .get("info")
        .and_then(|info| serde_json::from_str(info).ok())
        .unwrap_or_default();
    let layers: Vec<String> = details["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|layer| layer.as_str().map(str::to_string))
        .collect();
    progress.finish(&layers);
    let digest = status
        .image
        .iter()
        .flat_map(|image| image.repo_digests.iter())
        .find_map(|repo_digest| repo_digest.split_once('@').map(|(_, digest)| digest));
    if let Some(digest) = digest {
        println!("Digest: {digest}");
    }
    if progress.downloaded_anything {
        println!("Status: Downloaded newer image for {image}");
    } else {
        println!("Status: Image is up to date for {image}");
    }
    println!("{image}");
    Ok(())
}
