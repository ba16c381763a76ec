//! Pod and pod template defaults. Pods also get what Kubernetes' admission
//! plugins add (service account, priority, not-ready and unreachable
//! tolerations); pod templates inside workloads do not.

use serde_json::{Map, Value, json};

use super::container::default_container;
use super::{child, for_each_in, set_default, set_default_string};

/// Seconds a pod tolerates a not-ready or unreachable node, as Kubernetes'
/// DefaultTolerationSeconds admission plugin sets it.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Decimal 420 is octal 0644, the default mode of projected files.
const DEFAULT_FILE_MODE: i64 = 420;

pub(super) fn default_pod(pod: &mut Value) {
    let Some(spec) = child(pod, "spec") else {
        return;
    };
    default_pod_spec(spec);
    set_default(spec, "enableServiceLinks", json!(true));
    set_default_string(spec, "serviceAccountName", "default");
    set_default_string(spec, "serviceAccount", "default");
    if spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        set_default(spec, "priority", json!(0));
    }
    set_default_string(spec, "preemptionPolicy", "PreemptLowerPriority");
    add_default_tolerations(spec);
    for key in ["containers", "initContainers"] {
        for_each_in(spec, key, default_requests_to_limits);
    }
}

/// Defaults a pod template's spec (`spec.template.spec` of a workload).
pub(super) fn default_pod_template(template: &mut Value) {
    if let Some(spec) = child(template, "spec") {
        default_pod_spec(spec);
    }
}

fn default_pod_spec(spec: &mut Map<String, Value>) {
    set_default_string(spec, "dnsPolicy", "ClusterFirst");
    set_default_string(spec, "restartPolicy", "Always");
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    set_default_string(spec, "schedulerName", "default-scheduler");
    mirror_service_account(spec);
    let host_network = spec
        .get("hostNetwork")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for key in ["containers", "initContainers"] {
        for_each_in(spec, key, |container| {
            default_container(container, host_network)
        });
    }
    for_each_in(spec, "volumes", default_volume);
}

/// Copies `serviceAccountName` into the deprecated `serviceAccount` and back,
/// as the v1 conversion does.
fn mirror_service_account(spec: &mut Map<String, Value>) {
    let name = |key: &str, spec: &Map<String, Value>| {
        spec.get(key)
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    };
    if let Some(account) = name("serviceAccountName", spec) {
        set_default_string(spec, "serviceAccount", &account);
    } else if let Some(account) = name("serviceAccount", spec) {
        set_default_string(spec, "serviceAccountName", &account);
    }
}

fn default_volume(volume: &mut Map<String, Value>) {
    let has_source = volume
        .iter()
        .any(|(key, value)| key != "name" && !value.is_null());
    if !has_source {
        volume.insert("emptyDir".into(), json!({}));
    }
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
            set_default(source, "defaultMode", json!(DEFAULT_FILE_MODE));
            for_each_in(source, "items", |item| {
                if let Some(field_ref) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                    set_default_string(field_ref, "apiVersion", "v1");
                }
            });
        }
    }
    if let Some(host_path) = volume.get_mut("hostPath").and_then(Value::as_object_mut) {
        set_default(host_path, "type", json!(""));
    }
}

/// Adds the NoExecute tolerations for not-ready and unreachable nodes unless
/// the pod already tolerates those taints.
fn add_default_tolerations(spec: &mut Map<String, Value>) {
    let entry = spec.entry("tolerations").or_insert(Value::Null);
    if entry.is_null() {
        *entry = json!([]);
    }
    let Some(tolerations) = entry.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = tolerations.iter().any(|toleration| {
            let effect = toleration["effect"].as_str().unwrap_or("");
            let toleration_key = toleration["key"].as_str().unwrap_or("");
            let operator = toleration["operator"].as_str().unwrap_or("Equal");
            (toleration_key == key || (toleration_key.is_empty() && operator == "Exists"))
                && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            tolerations.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

/// Copies each limit without a request into the requests, as Kubernetes
/// does for pods.
fn default_requests_to_limits(container: &mut Map<String, Value>) {
    let Some(resources) = container
        .get_mut("resources")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let entry = resources.entry("requests").or_insert(Value::Null);
    if entry.is_null() {
        *entry = json!({});
    }
    if let Some(requests) = entry.as_object_mut() {
        for (name, limit) in limits {
            requests.entry(name).or_insert(limit);
        }
    }
}

/// Sets the status a new pod starts with: phase `Pending` and its QoS class.
pub fn pod_status_on_create(pod: &mut Value) {
    let qos = pod_qos_class(pod);
    if let Some(map) = pod.as_object_mut() {
        map.insert(
            "status".into(),
            json!({"phase": "Pending", "qosClass": qos}),
        );
    }
}

/// Computes a pod's QoS class: `Guaranteed` when every container has equal
/// CPU and memory requests and limits, `BestEffort` when none sets any, and
/// `Burstable` otherwise.
pub fn pod_qos_class(pod: &Value) -> &'static str {
    let spec = &pod["spec"];
    let containers = ["containers", "initContainers"]
        .iter()
        .flat_map(|key| spec[*key].as_array().into_iter().flatten());
    let mut any_set = false;
    let mut guaranteed = true;
    for container in containers {
        let requests = &container["resources"]["requests"];
        let limits = &container["resources"]["limits"];
        let has = |list: &Value| list.as_object().is_some_and(|map| !map.is_empty());
        if has(requests) || has(limits) {
            any_set = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits[resource].as_str();
            let request = requests[resource].as_str().or(limit);
            let equal = match (request, limit) {
                (Some(request), Some(limit)) => same_quantity(request, limit),
                _ => false,
            };
            if !equal {
                guaranteed = false;
            }
        }
    }
    if !any_set {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn same_quantity(left: &str, right: &str) -> bool {
    match (
        crate::quantity::Quantity::parse(left),
        crate::quantity::Quantity::parse(right),
    ) {
        (Ok(left), Ok(right)) => left.nanos() == right.nanos(),
        _ => left == right,
    }
}
