//! Errors of the image store and their gRPC status codes.

use std::path::PathBuf;

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image {reference:?} not found")]
    NotFound { reference: String },
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("invalid digest {digest:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest { digest: String },
    #[error("digest mismatch for {what} of {reference}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        reference: String,
        expected: String,
        actual: String,
    },
    #[error("unsupported media type {media_type:?} for {what} of {reference}")]
    UnsupportedMediaType {
        what: String,
        reference: String,
        media_type: String,
    },
    #[error("no linux/amd64 image in the index of {reference} (platforms: {platforms})")]
    NoMatchingPlatform {
        reference: String,
        platforms: String,
    },
    #[error("invalid manifest or config of {reference}: {reason}")]
    InvalidManifest { reference: String, reason: String },
    #[error("invalid layer {digest}: {reason}")]
    InvalidLayer { digest: String, reason: String },
    #[error("pulling {reference} failed: authentication rejected by the registry: {message}")]
    Unauthorized { reference: String, message: String },
    #[error("pulling {reference} failed: {message}")]
    Registry { reference: String, message: String },
    #[error("image {image} is in use by containers {containers:?}; remove them first")]
    InUse {
        image: String,
        containers: Vec<String>,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("image metadata file {path} is invalid: {source}")]
    Metadata {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("background task failed: {0}")]
    Task(String),
}

impl ImageError {
    /// Wraps an I/O error with what was done on which path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io {
            action,
            path,
            source,
        }
    }
}

impl From<ImageError> for tonic::Status {
    fn from(error: ImageError) -> tonic::Status {
        let message = error.to_string();
        match error {
            ImageError::NotFound { .. } => tonic::Status::not_found(message),
            ImageError::InvalidReference { .. } | ImageError::InvalidDigest { .. } => {
                tonic::Status::invalid_argument(message)
            }
            ImageError::DigestMismatch { .. } => tonic::Status::data_loss(message),
            ImageError::UnsupportedMediaType { .. }
            | ImageError::NoMatchingPlatform { .. }
            | ImageError::InvalidManifest { .. }
            | ImageError::InvalidLayer { .. } => tonic::Status::failed_precondition(message),
            ImageError::Unauthorized { .. } => tonic::Status::unauthenticated(message),
            ImageError::Registry { .. } => tonic::Status::unavailable(message),
            ImageError::InUse { .. } => tonic::Status::failed_precondition(message),
            ImageError::Io { .. } | ImageError::Metadata { .. } | ImageError::Task(_) => {
                tonic::Status::internal(message)
            }
        }
    }
}
