//! Settings of the controller manager, with kube-controller-manager's defaults.

use std::time::Duration;

/// Settings of the controller manager. `Config::default()` uses the defaults
/// of kube-controller-manager 1.33.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long expected pod creations and deletions of a ReplicaSet block a
    /// new sync before they are considered lost.
    pub expectations_timeout: Duration,
    /// Maximum number of pods one ReplicaSet sync creates or deletes.
    pub burst_replicas: usize,
    /// Interval between full garbage-collector passes, on top of the passes
    /// that object changes trigger.
    pub gc_resync_period: Duration,
    /// How often the API resources watched by the garbage collector and the
    /// namespace controller are rediscovered, so new resource types are seen.
    pub discovery_period: Duration,
    /// How often the node lifecycle controller checks node leases.
    pub node_monitor_period: Duration,
    /// How long a node's Lease may go unrenewed before the node is marked
    /// unreachable (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// How long a node that never reported gets before it is marked
    /// unreachable (`--node-startup-grace-period`).
    pub node_startup_grace_period: Duration,
    /// Namespace of the node Leases.
    pub node_lease_namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            expectations_timeout: Duration::from_secs(300),
            burst_replicas: 500,
            gc_resync_period: Duration::from_secs(30),
            discovery_period: Duration::from_secs(30),
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
            node_lease_namespace: "kube-node-lease".to_string(),
        }
    }
}
