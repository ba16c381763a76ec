//! CRI `runtime.v1.ImageService` on top of the [`ImageStore`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use k8s_cri::v1::image_service_server::{ImageService, ImageServiceServer};
use k8s_cri::v1::{
    AuthConfig, FilesystemIdentifier, FilesystemUsage, Image, ImageFsInfoRequest,
    ImageFsInfoResponse, ImageSpec, ImageStatusRequest, ImageStatusResponse, Int64Value,
    ListImagesRequest, ListImagesResponse, PullImageRequest, PullImageResponse, RemoveImageRequest,
    RemoveImageResponse, UInt64Value,
};
use tonic::{Request, Response, Status};

use super::{Credentials, ImageError, ImageRecord, ImageStore};

/// The gRPC ImageService, sharing one store with the runtime.
#[derive(Clone)]
pub struct ImageServer {
    store: Arc<ImageStore>,
}

impl ImageServer {
    pub fn new(store: Arc<ImageStore>) -> Self {
        Self { store }
    }

    /// Wraps the server for `tonic::transport::Server::add_service`.
    pub fn into_service(self) -> ImageServiceServer<ImageServer> {
        ImageServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl ImageService for ImageServer {
    async fn list_images(
        &self,
        request: Request<ListImagesRequest>,
    ) -> Result<Response<ListImagesResponse>, Status> {
        let filter = request
            .into_inner()
            .filter
            .and_then(|filter| filter.image)
            .map(|spec| spec.image)
            .filter(|image| !image.is_empty());
        let records = match filter {
            Some(image) => self
                .store
                .status(&image)
                .map(|found| found.into_iter().collect()),
            None => self.store.list(),
        }
        .map_err(|error| log_status("ListImages", "", error))?;
        Ok(Response::new(ListImagesResponse {
            images: records.iter().map(to_cri_image).collect(),
        }))
    }

    async fn image_status(
        &self,
        request: Request<ImageStatusRequest>,
    ) -> Result<Response<ImageStatusResponse>, Status> {
        let request = request.into_inner();
        let image = required_image(request.image.as_ref(), "ImageStatusRequest.image")?;
        let record = self
            .store
            .status(image)
            .map_err(|error| log_status("ImageStatus", image, error))?;
        // CRI: an absent image is an empty response, not an error.
        let Some(record) = record else {
            return Ok(Response::new(ImageStatusResponse::default()));
        };
        let mut info = HashMap::new();
        if request.verbose {
            let details = serde_json::json!({
                "id": record.id,
                "manifestDigest": record.manifest_digest,
                "layers": record.layer_digests,
                "diffIds": record.diff_ids,
                "config": record.config,
                "platform": format!("{}/{}", record.os, record.architecture),
            });
            info.insert("info".to_string(), details.to_string());
        }
        Ok(Response::new(ImageStatusResponse {
            image: Some(to_cri_image(&record)),
            info,
        }))
    }

    async fn pull_image(
        &self,
        request: Request<PullImageRequest>,
    ) -> Result<Response<PullImageResponse>, Status> {
        let request = request.into_inner();
        let image = required_image(request.image.as_ref(), "PullImageRequest.image")?;
        let credentials = credentials(request.auth.as_ref())?;
        let record = self
            .store
            .pull(image, &credentials)
            .await
            .map_err(|error| log_status("PullImage", image, error))?;
        // containerd returns the image id as the image ref.
        Ok(Response::new(PullImageResponse {
            image_ref: record.id,
        }))
    }

    async fn remove_image(
        &self,
        request: Request<RemoveImageRequest>,
    ) -> Result<Response<RemoveImageResponse>, Status> {
        let request = request.into_inner();
        let image = required_image(request.image.as_ref(), "RemoveImageRequest.image")?;
        self.store
            .remove(image)
            .await
            .map_err(|error| log_status("RemoveImage", image, error))?;
        Ok(Response::new(RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _request: Request<ImageFsInfoRequest>,
    ) -> Result<Response<ImageFsInfoResponse>, Status> {
        let usage = self
            .store
            .usage()
            .await
            .map_err(|error| log_status("ImageFsInfo", "", error))?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as i64)
            .unwrap_or_default();
        let filesystem = FilesystemUsage {
            timestamp,
            fs_id: Some(FilesystemIdentifier {
                mountpoint: self.store.path().display().to_string(),
            }),
            used_bytes: Some(UInt64Value {
                value: usage.used_bytes,
            }),
            inodes_used: Some(UInt64Value {
                value: usage.inodes_used,
            }),
        };
        Ok(Response::new(ImageFsInfoResponse {
            image_filesystems: vec![filesystem],
            container_filesystems: Vec::new(),
        }))
    }
}

fn required_image<'a>(spec: Option<&'a ImageSpec>, field: &str) -> Result<&'a str, Status> {
    match spec.map(|spec| spec.image.as_str()) {
        Some(image) if !image.trim().is_empty() => Ok(image),
        _ => Err(Status::invalid_argument(format!(
            "{field} is required: set it to an image reference such as busybox:1.36"
        ))),
    }
}

/// Turns the CRI auth config into pull credentials: a registry token wins,
/// then username and password, then the base64 `user:password` of `auth`.
fn credentials(auth: Option<&AuthConfig>) -> Result<Credentials, Status> {
    let Some(auth) = auth else {
        return Ok(Credentials::Anonymous);
    };
    if !auth.registry_token.is_empty() {
        return Ok(Credentials::Bearer(auth.registry_token.clone()));
    }
    if !auth.username.is_empty() {
        return Ok(Credentials::Basic {
            username: auth.username.clone(),
            password: auth.password.clone(),
        });
    }
    if !auth.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                Status::invalid_argument("AuthConfig.auth is not base64 of \"user:password\"")
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            Status::invalid_argument("AuthConfig.auth must decode to \"user:password\"")
        })?;
        return Ok(Credentials::Basic {
            username: username.to_string(),
            password: password.to_string(),
        });
    }
    // NOTE: identity_token (an OAuth2 refresh token) is not used; such
    // pulls go out anonymously.
    Ok(Credentials::Anonymous)
}

fn to_cri_image(record: &ImageRecord) -> Image {
    let user = record.config.user.as_deref().unwrap_or("");
    let user = user.split(':').next().unwrap_or("");
    let (uid, username) = match user.parse::<i64>() {
        Ok(uid) => (Some(Int64Value { value: uid }), String::new()),
        Err(_) => (None, user.to_string()),
    };
    Image {
        id: record.id.clone(),
        repo_tags: record.repo_tags.clone(),
        repo_digests: record.repo_digests.clone(),
        size: record.size,
        uid,
        username,
        spec: Some(ImageSpec {
            image: record.id.clone(),
            ..ImageSpec::default()
        }),
        pinned: false,
    }
}

fn log_status(method: &str, image: &str, error: ImageError) -> Status {
    tracing::warn!(method, image, error = %error, "image request failed");
    Status::from(error)
}
