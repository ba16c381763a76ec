//! Assigns pending pods to nodes and binds them.

pub mod algorithm;
pub mod cache;
pub mod filters;
pub mod fit_error;
pub mod framework;
pub mod scores;

use tokio_util::sync::CancellationToken;

/// Settings of the component.
#[derive(Clone, Debug, Default)]
pub struct Config {}

/// Errors that stop the component.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not implemented yet")]
    NotImplemented,
}

/// Runs until `shutdown` is cancelled.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let _ = (client, config, shutdown);
    Err(Error::NotImplemented)
}
