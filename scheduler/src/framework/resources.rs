//! Resource amounts: what a node offers and what a pod requests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity;

/// CPU assumed for a container without a CPU request when scoring, as
/// kube-scheduler does (`DefaultMilliCPURequest`), in millicores.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container without a memory request when scoring
/// (`DefaultMemoryRequest`), in bytes.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts of the resources the scheduler accounts for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    /// Bytes.
    pub memory: i64,
    /// Bytes.
    pub ephemeral_storage: i64,
    /// Extended resources (`example.com/gpu`, `hugepages-2Mi`) in whole units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Builds the amounts from a Kubernetes resource list. `pods` is ignored.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut resources = Self::default();
        resources.add_list(list);
        resources
    }

    pub fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, amount) in list {
            match name.as_str() {
                "cpu" => self.milli_cpu += quantity::milli_value(amount),
                "memory" => self.memory += quantity::value(amount),
                "ephemeral-storage" => self.ephemeral_storage += quantity::value(amount),
                "pods" => {}
                other => {
                    *self.scalar.entry(other.to_string()).or_default() += quantity::value(amount)
                }
            }
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += amount;
        }
    }

    pub fn subtract(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= amount;
        }
    }

    /// Raises each amount to `other`'s where `other`'s is larger.
    pub fn set_max(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, amount) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = (*entry).max(*amount);
        }
    }
}

/// Returns what a pod requests: the sum over its containers, or the largest
/// init container if that is more (sidecars, init containers with
/// `restartPolicy: Always`, keep running and add up), plus `spec.overhead`.
/// Pod-level `spec.resources.requests` replace the containers' CPU and memory.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut requests = aggregate(spec, container_requests);
    apply_pod_level_requests(spec, &mut requests);
    add_overhead(spec, &mut requests);
    requests
}

/// Returns the CPU and memory the scoring functions count for a pod, with
/// containers that request neither counted at the defaults above.
pub fn pod_non_zero_requests(pod: &Pod) -> (i64, i64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let mut requests = aggregate(spec, |container| {
        let mut requests = container_requests(container);
        if requests.milli_cpu == 0 {
            requests.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if requests.memory == 0 {
            requests.memory = DEFAULT_MEMORY_REQUEST;
        }
        requests
    });
    apply_pod_level_requests(spec, &mut requests);
    add_overhead(spec, &mut requests);
    (requests.milli_cpu, requests.memory)
}

fn aggregate(spec: &PodSpec, requests_of: impl Fn(&Container) -> Resources) -> Resources {
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&requests_of(container));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = requests_of(container);
        let phase = if container.restart_policy.as_deref() == Some("Always") {
            total.add(&requests);
            sidecars.add(&requests);
            sidecars.clone()
        } else {
            let mut phase = requests;
            phase.add(&sidecars);
            phase
        };
        init_max.set_max(&phase);
    }
    total.set_max(&init_max);
    total
}

/// Returns a container's requests, taking a limit where the request is
/// missing, as API defaulting does.
fn container_requests(container: &Container) -> Resources {
    let Some(resources) = container.resources.as_ref() else {
        return Resources::default();
    };
    let mut list = resources.limits.clone().unwrap_or_default();
    list.extend(resources.requests.clone().unwrap_or_default());
    Resources::from_list(&list)
}

fn apply_pod_level_requests(spec: &PodSpec, requests: &mut Resources) {
    let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) else {
        return;
    };
    if let Some(cpu) = pod_level.get("cpu") {
        requests.milli_cpu = quantity::milli_value(cpu);
    }
    if let Some(memory) = pod_level.get("memory") {
        requests.memory = quantity::value(memory);
    }
}

fn add_overhead(spec: &PodSpec, requests: &mut Resources) {
    if let Some(overhead) = spec.overhead.as_ref() {
        requests.add_list(overhead);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).expect("valid pod")
    }

    fn container(name: &str, requests: serde_json::Value) -> serde_json::Value {
        json!({"name": name, "image": "busybox", "resources": {"requests": requests}})
    }

    #[test]
    fn sums_containers() {
        let pod = pod(json!({"containers": [
            container("a", json!({"cpu": "250m", "memory": "64Mi"})),
            container("b", json!({"cpu": "1.5", "memory": "1Gi"})),
        ]}));
        let requests = pod_requests(&pod);
        assert_eq!(requests.milli_cpu, 1750);
        assert_eq!(requests.memory, (64 << 20) + (1 << 30));
    }

    #[test]
    fn init_container_max_wins() {
        let pod = pod(json!({
            "initContainers": [container("init", json!({"cpu": "2", "memory": "64Mi"}))],
            "containers": [container("a", json!({"cpu": "500m", "memory": "1Gi"}))],
        }));
        let requests = pod_requests(&pod);
        assert_eq!(requests.milli_cpu, 2000);
        assert_eq!(requests.memory, 1 << 30);
    }

    #[test]
    fn sidecars_add_to_containers_and_later_init_containers() {
        let mut sidecar = container("sidecar", json!({"cpu": "100m"}));
        sidecar["restartPolicy"] = json!("Always");
        let pod = pod(json!({
            "initContainers": [sidecar, container("init", json!({"cpu": "1"}))],
            "containers": [container("a", json!({"cpu": "500m"}))],
        }));
        // The init container runs beside the sidecar: 1 + 0.1 > 0.5 + 0.1.
        assert_eq!(pod_requests(&pod).milli_cpu, 1100);
    }

    #[test]
    fn overhead_is_added() {
        let pod = pod(json!({
            "containers": [container("a", json!({"cpu": "250m"}))],
            "overhead": {"cpu": "250m", "memory": "120Mi"},
        }));
        let requests = pod_requests(&pod);
        assert_eq!(requests.milli_cpu, 500);
        assert_eq!(requests.memory, 120 << 20);
    }

    #[test]
    fn limits_stand_in_for_missing_requests() {
        let pod = pod(json!({"containers": [{"name": "a", "image": "busybox",
            "resources": {"limits": {"cpu": "1", "example.com/gpu": "2"}}}]}));
        let requests = pod_requests(&pod);
        assert_eq!(requests.milli_cpu, 1000);
        assert_eq!(requests.scalar.get("example.com/gpu"), Some(&2));
    }

    #[test]
    fn non_zero_requests_default_missing_values() {
        let pod = pod(json!({"containers": [
            {"name": "a", "image": "busybox"},
            container("b", json!({"cpu": "1"})),
        ]}));
        assert_eq!(
            pod_non_zero_requests(&pod),
            (1100, 2 * DEFAULT_MEMORY_REQUEST)
        );
    }
}
