//! Errors of the reconcilers.

/// Error of a reconcile or of the controller manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    #[error("API discovery failed: {0}")]
    Discovery(String),
    #[error("invalid label selector of {object}: {message}")]
    InvalidSelector { object: String, message: String },
    #[error("invalid {field} of deployment {deployment}: {message}")]
    InvalidStrategy {
        deployment: String,
        field: &'static str,
        message: String,
    },
    #[error("failed to encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("sync of {object} failed: {message}")]
    Sync { object: String, message: String },
    #[error("object {0} has no name")]
    MissingName(String),
    #[error("the cache of {0} never finished its initial list")]
    CacheNotReady(&'static str),
}

impl Error {
    /// Returns whether the API rejected the request with this HTTP status code.
    pub fn is_status(&self, code: u16) -> bool {
        matches!(self, Error::Api(kube::Error::Api(status)) if status.code == code)
    }
}

/// Returns whether a kube client error is an API error with this status code.
pub fn is_api_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}
