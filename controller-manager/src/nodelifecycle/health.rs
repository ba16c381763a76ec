//! Node health from Lease renewals: a node whose Lease (or, without one,
//! Ready heartbeat) stops changing for the grace period gets Unknown
//! conditions and the unreachable taints; a node reporting Ready=False gets
//! the not-ready taints; a healthy node gets neither.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::taints::{NO_EXECUTE, NO_SCHEDULE, NOT_READY, UNREACHABLE};
use crate::config::Config;
use crate::error::Error;
use crate::time;

/// Conditions the kubelet reports and the controller marks Unknown.
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The last heartbeat seen from a node and when this controller saw it
/// change. Local time is used so clock skew between hosts does not matter.
struct Probe {
    heartbeat: Option<String>,
    seen: Instant,
}

pub struct Context {
    pub client: Client,
    pub config: Config,
    pub leases: Store<Lease>,
    probes: Mutex<HashMap<String, Probe>>,
}

impl Context {
    pub fn new(client: Client, config: Config, leases: Store<Lease>) -> Self {
        Self {
            client,
            config,
            leases,
            probes: Mutex::new(HashMap::new()),
        }
    }

    /// Returns how long ago the node's heartbeat last changed.
    fn silence(&self, node: &Node) -> Duration {
        let lease = self
            .leases
            .get(&ObjectRef::new(&node.name_any()).within(&self.config.node_lease_namespace));
        let heartbeat = lease
            .and_then(|lease| {
                lease
                    .spec
                    .as_ref()?
                    .renew_time
                    .as_ref()
                    .map(|time| time.0.to_string())
            })
            .or_else(|| {
                ready_condition(node)
                    .and_then(|condition| condition.last_heartbeat_time.as_ref())
                    .map(|time| time.0.to_string())
            });
        let Ok(mut probes) = self.probes.lock() else {
            return Duration::ZERO;
        };
        let probe = probes.entry(node.name_any()).or_insert_with(|| Probe {
            heartbeat: heartbeat.clone(),
            seen: Instant::now(),
        });
        if probe.heartbeat != heartbeat {
            probe.heartbeat = heartbeat;
            probe.seen = Instant::now();
        }
        probe.seen.elapsed()
    }

    pub fn forget(&self, node: &str) {
        if let Ok(mut probes) = self.probes.lock() {
            probes.remove(node);
        }
    }
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")
}

/// Checks one node's heartbeat and updates its conditions and taints.
pub async fn reconcile(node: Arc<Node>, context: Arc<Context>) -> Result<Action, Error> {
    let never_reported = ready_condition(&node).is_none();
    let grace = if never_reported {
        context.config.node_startup_grace_period
    } else {
        context.config.node_monitor_grace_period
    };
    let silence = context.silence(&node);
    let api: Api<Node> = Api::all(context.client.clone());
    let mut node = node.as_ref().clone();
    let unreachable = silence > grace;
    if unreachable {
        mark_unknown(&api, &mut node, never_reported).await?;
    }
    let ready = ready_condition(&node).map(|condition| condition.status.clone());
    let wanted = match (unreachable, ready.as_deref()) {
        (true, _) => Some(UNREACHABLE),
        (false, Some("False")) => Some(NOT_READY),
        _ => None,
    };
    update_taints(&api, &node, wanted).await?;
    let next = if unreachable {
        context.config.node_monitor_period
    } else {
        grace
            .saturating_sub(silence)
            .min(context.config.node_monitor_period)
    };
    Ok(Action::requeue(next + Duration::from_millis(100)))
}

/// Sets the kubelet's conditions to Unknown, as kube-controller-manager
/// does when a node stops reporting.
async fn mark_unknown(api: &Api<Node>, node: &mut Node, never_reported: bool) -> Result<(), Error> {
    let now = time::now();
    let status = node.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for type_ in KUBELET_CONDITIONS {
        let (reason, message) = if never_reported {
            (
                "NodeStatusNeverUpdated",
                "Kubelet never posted node status.",
            )
        } else {
            ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        };
        match conditions
            .iter_mut()
            .find(|condition| condition.type_ == *type_)
        {
            Some(condition) if condition.status == "Unknown" => {}
            Some(condition) => {
                condition.status = "Unknown".to_string();
                condition.reason = Some(reason.to_string());
                condition.message = Some(message.to_string());
                condition.last_transition_time = Some(now.clone());
                changed = true;
            }
            None if *type_ == "Ready" || !never_reported => {
                conditions.push(NodeCondition {
                    type_: type_.to_string(),
                    status: "Unknown".to_string(),
                    reason: Some(reason.to_string()),
                    message: Some(message.to_string()),
                    last_heartbeat_time: Some(now.clone()),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            None => {}
        }
    }
    if changed {
        tracing::info!(node = %node.name_any(), "node stopped renewing its lease, marking it unknown");
        *node = api
            .replace_status(&node.name_any(), &PostParams::default(), node)
            .await?;
    }
    Ok(())
}

/// Makes the node carry the NoSchedule and NoExecute taints of `wanted`
/// (unreachable or not-ready) and no taint of the other kind.
async fn update_taints(api: &Api<Node>, node: &Node, wanted: Option<&str>) -> Result<(), Error> {
    let current = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default();
    let managed = |taint: &Taint| {
        (taint.key == UNREACHABLE || taint.key == NOT_READY)
            && (taint.effect == NO_SCHEDULE || taint.effect == NO_EXECUTE)
    };
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|taint| !managed(taint) || Some(taint.key.as_str()) == wanted)
        .cloned()
        .collect();
    if let Some(key) = wanted {
        for effect in [NO_SCHEDULE, NO_EXECUTE] {
            if !taints
                .iter()
                .any(|taint| taint.key == key && taint.effect == effect)
            {
                taints.push(Taint {
                    key: key.to_string(),
                    effect: effect.to_string(),
                    value: None,
                    time_added: (effect == NO_EXECUTE).then(time::now),
                });
            }
        }
    }
    if taints == current {
        return Ok(());
    }
    tracing::info!(node = %node.name_any(), taint = ?wanted, "updating node lifecycle taints");
    let patch = json!({
        "metadata": {"resourceVersion": node.resource_version()},
        "spec": {"taints": if taints.is_empty() { serde_json::Value::Null } else { json!(taints) }},
    });
    api.patch(
        &node.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
