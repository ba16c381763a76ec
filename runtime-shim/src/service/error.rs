//! Errors of runtime operations and their gRPC status codes.

use std::path::PathBuf;

use crate::container::{rootfs::RootfsError, runc::RuncError, spec::SpecError};
use crate::image::ImageError;
use crate::sandbox::{cni::CniError, namespaces::NamespaceError};
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{kind} {id:?} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Cni(#[from] CniError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Runc(#[from] RuncError),
    #[error("container monitor failed: {0}")]
    Monitor(String),
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        let message = error.to_string();
        match error {
            ServiceError::NotFound { .. } => tonic::Status::not_found(message),
            ServiceError::Image(ImageError::NotFound { .. }) => tonic::Status::not_found(message),
            ServiceError::Invalid { .. } | ServiceError::Spec(_) => {
                tonic::Status::invalid_argument(message)
            }
            ServiceError::FailedPrecondition(_) => tonic::Status::failed_precondition(message),
            ServiceError::AlreadyExists(_) => tonic::Status::already_exists(message),
            ServiceError::Timeout(_) => tonic::Status::deadline_exceeded(message),
            _ => tonic::Status::internal(message),
        }
    }
}
