//! Pulling from registries that require authentication: basic auth from
//! the CRI AuthConfig and the anonymous bearer-token flow.

use std::sync::Arc;

use anyhow::Result;
use base64::Engine as _;
use k8s_cri::v1::image_service_server::ImageService;
use k8s_cri::v1::{AuthConfig, ImageSpec, PullImageRequest};
use skiff_e2e::images;
use skiff_e2e::registry::{Registry, RegistryAuth, TokenServer};
use skiff_runtime_shim::image::{ImageServer, ImageStore};
use tonic::{Code, Request};

fn pull_request(image: &str, auth: Option<AuthConfig>) -> Request<PullImageRequest> {
    Request::new(PullImageRequest {
        image: Some(ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        auth,
        sandbox_config: None,
    })
}

fn server() -> Result<(tempfile::TempDir, ImageServer)> {
    let root = tempfile::Builder::new().prefix("skiff-images-").tempdir()?;
    let store = Arc::new(ImageStore::open(root.path().to_path_buf())?);
    Ok((root, ImageServer::new(store)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_with_basic_auth() -> Result<()> {
    let registry = Registry::start_with_auth(RegistryAuth::Basic {
        username: "skiff".to_string(),
        password: "s3cret".to_string(),
    })?;
    let pushed = images::push_busybox(&registry)?;
    let (_root, server) = server()?;

    let status = server
        .pull_image(pull_request(&pushed.reference, None))
        .await
        .expect_err("an anonymous pull must be rejected");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let wrong = AuthConfig {
        username: "skiff".to_string(),
        password: "wrong".to_string(),
        ..Default::default()
    };
    let status = server
        .pull_image(pull_request(&pushed.reference, Some(wrong)))
        .await
        .expect_err("a wrong password must be rejected");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let password = AuthConfig {
        username: "skiff".to_string(),
        password: "s3cret".to_string(),
        ..Default::default()
    };
    server
        .pull_image(pull_request(&pushed.reference, Some(password)))
        .await?;

    let encoded = AuthConfig {
        auth: base64::engine::general_purpose::STANDARD.encode("skiff:s3cret"),
        ..Default::default()
    };
    server
        .pull_image(pull_request(&pushed.digest_reference(), Some(encoded)))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_with_bearer_token_flow() -> Result<()> {
    let tokens = TokenServer::start()?;
    let registry = Registry::start_with_auth(RegistryAuth::Token {
        realm: tokens.realm(),
    })?;
    let pushed = images::push_busybox(&registry)?;
    let pushes = tokens.authorizations().len();
    let (_root, server) = server()?;

    let response = server
        .pull_image(pull_request(&pushed.reference, None))
        .await?
        .into_inner();
    assert!(response.image_ref.starts_with("sha256:"));
    let requests = tokens.authorizations();
    assert!(requests.len() > pushes, "no token was requested");
    assert!(
        requests[pushes..].iter().all(String::is_empty),
        "{requests:?}"
    );
    // The silly auth rejects requests without an Authorization header, so
    // the blobs it served went out against the bearer token.
    assert!(registry.blob_downloads() > 0, "{}", registry.log());

    let basic = AuthConfig {
        username: "skiff".to_string(),
        password: "s3cret".to_string(),
        ..Default::default()
    };
    server
        .pull_image(pull_request(&pushed.digest_reference(), Some(basic)))
        .await?;
    let last = tokens.authorizations();
    let last = last.last().map(String::as_str).unwrap_or("");
    assert!(last.starts_with("Basic "), "token request used {last:?}");
    Ok(())
}
