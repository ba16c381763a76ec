//! Assigns pending pods to nodes and binds them, with kube-scheduler's
//! default filters, scores and messages.
//!
//! Watches of pods and nodes feed a single scheduling loop (a dedicated
//! thread) that owns the node cache and the queue; bindings, conditions and
//! Events are written concurrently on the tokio runtime.

pub mod algorithm;
pub mod binder;
pub mod cache;
pub mod events;
pub mod filters;
pub mod fit_error;
pub mod framework;
pub mod informers;
pub mod queue;
pub mod scheduling_loop;
pub mod scores;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::algorithm::SearchSettings;
use crate::binder::Binder;
use crate::events::EventRecorder;
use crate::scheduling_loop::SchedulingLoop;

/// The `spec.schedulerName` this scheduler serves by default; pods with
/// an empty name are served too.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Settings of the component.
#[derive(Clone, Debug)]
pub struct Config {
    /// Pods naming this scheduler in `spec.schedulerName` are scheduled;
    /// also the Events' source component.
    pub scheduler_name: String,
    pub search: SearchSettings,
    /// Wait before the first retry of a pod that failed.
    pub initial_backoff: Duration,
    /// Upper bound of the doubling retry wait.
    pub max_backoff: Duration,
    /// Binding requests in flight at once.
    pub max_concurrent_bindings: usize,
    /// Minimum time between two identical FailedScheduling events of a pod.
    pub failure_event_interval: Duration,
}

impl Default for Config {
    /// kube-scheduler's defaults: 1 s initial and 10 s maximum backoff.
    fn default() -> Self {
        Self {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            search: SearchSettings::default(),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_concurrent_bindings: 64,
            failure_event_interval: Duration::from_secs(60),
        }
    }
}

/// Errors that stop the component.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the scheduling loop panicked: {0}")]
    LoopPanicked(String),
}

/// Runs until `shutdown` is cancelled.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let events = EventRecorder::spawn(client.clone(), &config.scheduler_name, shutdown.clone());
    let binder = Binder::new(
        client.clone(),
        tokio::runtime::Handle::current(),
        sender.clone(),
        events,
        config.max_concurrent_bindings,
        &config.scheduler_name,
    );
    let watches = informers::spawn(client, sender, shutdown.clone());
    let scheduling_loop = SchedulingLoop::new(config, binder, receiver, shutdown.clone());
    let result = tokio::task::spawn_blocking(move || scheduling_loop.run()).await;
    shutdown.cancel();
    for watch in watches {
        let _ = watch.await;
    }
    result.map_err(|error| Error::LoopPanicked(error.to_string()))
}
