//! The runtime-independent part of the image suite, run over the CRI socket
//! against our shim and against containerd 1.6 as the reference. It covers
//! pulls by tag and digest, an index resolved to linux/amd64, a second pull
//! that downloads nothing, a corrupted blob rejected, and a missing image
//! answered with NotFound.

use anyhow::{Context, Result};
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::{ImageSpec, ImageStatusRequest, ListImagesRequest, PullImageRequest};
use skiff_e2e::images;
use skiff_e2e::node::{CriRuntime, RuntimeKind};
use skiff_e2e::registry::Registry;
use skiff_e2e::shim::connect;
use tonic::Code;
use tonic::transport::Channel;

async fn client(runtime: &CriRuntime) -> Result<ImageServiceClient<Channel>> {
    let channel = connect(runtime.socket()).await?;
    // containerd opens its socket before its CRI plugin serves.
    let mut probe = ImageServiceClient::new(channel.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Err(status) = probe.list_images(ListImagesRequest::default()).await {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the runtime never served CRI calls: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(ImageServiceClient::new(channel))
}

async fn pull(
    client: &mut ImageServiceClient<Channel>,
    image: &str,
) -> Result<String, tonic::Status> {
    let response = client
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    Ok(response.into_inner().image_ref)
}

async fn status(
    client: &mut ImageServiceClient<Channel>,
    image: &str,
) -> Result<Option<k8s_cri::v1::Image>> {
    let response = client
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await?;
    Ok(response.into_inner().image)
}

async fn image_suite(kind: RuntimeKind) -> Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?;
    let httpd = images::push_httpd(&registry)?;
    let multiarch = images::push_multiarch(&registry)?;
    let runtime = CriRuntime::start(kind, &registry)?;
    let mut client = client(&runtime).await?;

    // By tag and by digest, the image ID is the config digest.
    let config = images::config_digest(&registry, &busybox.digest)?;
    let before = registry.blob_downloads();
    pull(&mut client, &busybox.reference).await?;
    let first_pull = registry.blob_downloads() - before;
    assert_eq!(first_pull, 2, "config and layer; log:\n{}", registry.log());
    let by_digest = pull(&mut client, &busybox.digest_reference()).await?;
    let image = status(&mut client, &busybox.reference)
        .await?
        .context("busybox missing after its pull")?;
    assert_eq!(image.id, config);
    assert_eq!(by_digest, config);
    assert!(image.repo_tags.contains(&busybox.reference), "{image:?}");
    assert!(
        image.repo_digests.contains(&busybox.digest_reference()),
        "{image:?}"
    );

    // Nothing is fetched again, not even a layer another image shares.
    let settled = registry.blob_downloads();
    pull(&mut client, &busybox.reference).await?;
    assert_eq!(registry.blob_downloads(), settled, "{}", registry.log());
    pull(&mut client, &httpd.reference).await?;
    let base_layer = &images::layer_digests(&registry, &busybox.digest)?[0];
    assert_eq!(
        registry.blob_downloads_of(base_layer),
        1,
        "{}",
        registry.log()
    );

    // An index resolves to its linux/amd64 image.
    let amd64 = multiarch
        .platform_digest("amd64")
        .context("no amd64 entry")?;
    pull(&mut client, &multiarch.reference).await?;
    let resolved = status(&mut client, &multiarch.reference)
        .await?
        .context("the index image is missing")?;
    assert_eq!(resolved.id, images::config_digest(&registry, amd64)?);

    // A missing image is NotFound and names what was asked for.
    let missing = format!("{}/skiff-test/absent:1", registry.host());
    let error = pull(&mut client, &missing)
        .await
        .expect_err("pull must fail");
    assert_eq!(error.code(), Code::NotFound, "{error:?}");
    assert!(error.message().contains(&missing), "{error:?}");
    assert!(status(&mut client, &missing).await?.is_none());

    // A layer whose bytes do not match its digest is rejected, and nothing
    // of the image is kept.
    let corrupt = images::push(
        &registry,
        images::TestImage::Layered,
        "corrupt",
        images::ManifestFormat::Oci,
    )?;
    let layers = images::layer_digests(&registry, &corrupt.digest)?;
    let layer = layers.last().context("no layers")?;
    let blob = registry.blob_path(layer);
    let mut bytes = std::fs::read(&blob)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, &bytes)?;
    let error = pull(&mut client, &corrupt.reference)
        .await
        .expect_err("a corrupted layer must be rejected");
    assert_ne!(error.code(), Code::Ok);
    assert!(status(&mut client, &corrupt.reference).await?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn shim_passes_the_image_suite() -> Result<()> {
    image_suite(RuntimeKind::Shim).await
}

#[tokio::test(flavor = "multi_thread")]
async fn containerd_passes_the_image_suite() -> Result<()> {
    image_suite(RuntimeKind::Containerd).await
}
