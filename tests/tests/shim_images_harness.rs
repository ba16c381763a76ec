//! Checks the shared image harness: a real registry and the offline-built
//! test images pushed to it.

use anyhow::Result;
use skiff_e2e::images::{self, ManifestFormat, TestImage};
use skiff_e2e::registry::Registry;

#[test]
fn harness_pushes_all_test_images() -> Result<()> {
    let registry = Registry::start()?;
    for image in [TestImage::Busybox, TestImage::Layered, TestImage::Httpd] {
        let pushed = images::push(&registry, image, "1", ManifestFormat::Oci)?;
        assert!(pushed.digest.starts_with("sha256:"), "{pushed:?}");
        assert!(!images::layer_digests(&registry, &pushed.digest)?.is_empty());
    }
    let multiarch = images::push_multiarch(&registry)?;
    assert!(
        multiarch.platform_digest("amd64").is_some(),
        "{multiarch:?}"
    );
    assert!(
        multiarch.platform_digest("arm64").is_some(),
        "{multiarch:?}"
    );

    let docker = images::push(
        &registry,
        TestImage::Busybox,
        "docker",
        ManifestFormat::DockerV2,
    )?;
    let manifest = images::read_registry_blob(&registry, &docker.digest)?;
    let manifest = String::from_utf8(manifest)?;
    assert!(
        manifest.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{manifest}"
    );
    assert!(registry.blob_downloads() == 0, "{}", registry.log());
    Ok(())
}
