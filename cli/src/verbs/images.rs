//! `skiff images`: the images in the local node's store, listed like
//! `docker images`.

use k8s_cri::v1::{Image, ListImagesRequest};

use super::node::{NodeTarget, human_size};
use super::table;

#[derive(clap::Args)]
pub struct Args {
    /// Show full image ids instead of their first 12 hex digits.
    #[arg(long)]
    no_trunc: bool,
    /// Print only image ids.
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    node: NodeTarget,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut runtime = args.node.connect().await?;
    let images = runtime
        .images
        .list_images(ListImagesRequest { filter: None })
        .await
        .map_err(|status| anyhow::anyhow!("listing images failed: {}", status.message()))?
        .into_inner()
        .images;
    let mut rows = vec![
        ["REPOSITORY", "TAG", "IMAGE ID", "SIZE"]
            .map(String::from)
            .to_vec(),
    ];
    let mut ids = Vec::new();
    for image in &images {
        let id = display_id(&image.id, args.no_trunc);
        if !ids.contains(&id) {
            ids.push(id.clone());
        }
        for (repository, tag) in names(image) {
            rows.push(vec![repository, tag, id.clone(), human_size(image.size)]);
        }
    }
    if args.quiet {
        for id in ids {
            println!("{id}");
        }
        return Ok(());
    }
    let header = rows.remove(0);
    rows.sort();
    rows.insert(0, header);
    for line in table::align_rows(&rows) {
        println!("{line}");
    }
    Ok(())
}

/// Returns the (repository, tag) rows of an image: one per tag, else one
/// `<none>` tag per repository it was pulled from by digest.
fn names(image: &Image) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = image
        .repo_tags
        .iter()
        .map(|repo_tag| split_tag(repo_tag))
        .collect();
    if names.is_empty() {
        names = image
            .repo_digests
            .iter()
            .map(|repo_digest| {
                let repository = repo_digest.split('@').next().unwrap_or(repo_digest);
                (short_repository(repository), "<none>".to_string())
            })
            .collect();
    }
    if names.is_empty() {
        names.push(("<none>".to_string(), "<none>".to_string()));
    }
    names
}

/// Splits `registry/repository:tag` at the tag's colon, which follows the
/// last slash (a registry port's colon comes before it).
fn split_tag(repo_tag: &str) -> (String, String) {
    let slash = repo_tag.rfind('/').map_or(0, |index| index + 1);
    match repo_tag[slash..].rfind(':') {
        Some(colon) => (
            short_repository(&repo_tag[..slash + colon]),
            repo_tag[slash + colon + 1..].to_string(),
        ),
        None => (short_repository(repo_tag), "<none>".to_string()),
    }
}

/// Drops the Docker Hub prefixes that docker leaves out: `docker.io/library/busybox` is `busybox`.
fn short_repository(repository: &str) -> String {
    let short = repository
        .strip_prefix("docker.io/library/")
        .or_else(|| repository.strip_prefix("docker.io/"))
        .unwrap_or(repository);
    short.to_string()
}

fn display_id(id: &str, full: bool) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    if full {
        return id.to_string();
    }
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_tag_keeps_registry_port() {
        assert_eq!(
            split_tag("127.0.0.1:5000/skiff/web:1"),
            ("127.0.0.1:5000/skiff/web".to_string(), "1".to_string())
        );
        assert_eq!(
            split_tag("docker.io/library/busybox:latest"),
            ("busybox".to_string(), "latest".to_string())
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/web"),
            ("127.0.0.1:5000/web".to_string(), "<none>".to_string())
        );
    }

    #[test]
    fn names_of_untagged_image_come_from_digests() {
        let image = Image {
            repo_digests: vec!["127.0.0.1:5000/web@sha256:abc".to_string()],
            ..Image::default()
        };
        assert_eq!(
            names(&image),
            vec![("127.0.0.1:5000/web".to_string(), "<none>".to_string())]
        );
    }
}
