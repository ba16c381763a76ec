//! Requests and limits as QoS class and CRI cgroup settings.

use std::collections::BTreeMap;

use k8s_cri::v1::LinuxContainerResources;
use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use skiff_machinery::quantity::parse_milli;

const CPU_PERIOD: i64 = 100_000;
const MIN_SHARES: i64 = 2;

fn milli(map: Option<&BTreeMap<String, Quantity>>, name: &str) -> Option<i128> {
    map?.get(name).and_then(|q| parse_milli(&q.0).ok())
}

/// Requests with limits standing in for missing requests, as the API does.
fn request(resources: &ResourceRequirements, name: &str) -> Option<i128> {
    milli(resources.requests.as_ref(), name).or_else(|| milli(resources.limits.as_ref(), name))
}

/// The pod's QoS class: Guaranteed, Burstable or BestEffort.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let r = c.resources.clone().unwrap_or_default();
        for name in ["cpu", "memory"] {
            let req = request(&r, name);
            let lim = milli(r.limits.as_ref(), name);
            if req.is_some_and(|v| v != 0) || lim.is_some_and(|v| v != 0) {
                any = true;
            }
            if lim.is_none() || req != lim {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// CRI linux resources of one container. `memory_capacity` (bytes) scales
/// the OOM score of Burstable pods; scores are never negative, because
/// lowering one needs CAP_SYS_RESOURCE.
pub fn linux_resources(
    pod: &Pod,
    container: &Container,
    memory_capacity: i128,
) -> LinuxContainerResources {
    let r = container.resources.clone().unwrap_or_default();
    let cpu_request = request(&r, "cpu").unwrap_or(0);
    let cpu_limit = milli(r.limits.as_ref(), "cpu");
    let memory_limit = milli(r.limits.as_ref(), "memory").map(|m| (m / 1000) as i64);
    let memory_request = request(&r, "memory").map(|m| m / 1000).unwrap_or(0);
    let shares = ((cpu_request * 1024) / 1000) as i64;
    let oom = match qos_class(pod) {
        "Guaranteed" => 0,
        "BestEffort" => 1000,
        _ if memory_capacity > 0 => {
            (1000 - (1000 * memory_request) / memory_capacity).clamp(2, 999) as i64
        }
        _ => 999,
    };
    LinuxContainerResources {
        cpu_period: if cpu_limit.is_some() { CPU_PERIOD } else { 0 },
        cpu_quota: cpu_limit
            .map(|l| ((l * i128::from(CPU_PERIOD)) / 1000).max(1000) as i64)
            .unwrap_or(0),
        cpu_shares: shares.max(MIN_SHARES),
        memory_limit_in_bytes: memory_limit.unwrap_or(0),
        oom_score_adj: oom,
        ..Default::default()
    }
}

/// The value of a resourceFieldRef (`limits.cpu`, `requests.memory`, ...)
/// divided by `divisor`, rounded up; limits fall back to the node's
/// allocatable when unset.
pub fn field_value(
    container: &Container,
    resource: &str,
    divisor: Option<&Quantity>,
    allocatable: &BTreeMap<String, Quantity>,
) -> Option<String> {
    let r = container.resources.clone().unwrap_or_default();
    let (kind, name) = resource.split_once('.')?;
    let value = match kind {
        "limits" => milli(r.limits.as_ref(), name).or_else(|| milli(Some(allocatable), name)),
        "requests" => request(&r, name).or(Some(0)),
        _ => None,
    }?;
    let divisor = divisor
        .and_then(|d| parse_milli(&d.0).ok())
        .filter(|d| *d > 0)
        .unwrap_or(1000);
    Some(((value + divisor - 1) / divisor).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let map = |items: &[(&str, &str)]| {
            (!items.is_empty()).then(|| {
                items
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect()
            })
        };
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: map(requests),
                limits: map(limits),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(c: Container) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![c],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&pod(container(&[], &[]))), "BestEffort");
        assert_eq!(
            qos_class(&pod(container(&[], &[("cpu", "1"), ("memory", "64Mi")]))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(container(&[("cpu", "100m")], &[]))),
            "Burstable"
        );
    }

    #[test]
    fn cgroup_values() {
        let c = container(&[("cpu", "250m")], &[("cpu", "500m"), ("memory", "64Mi")]);
        let p = pod(c.clone());
        let r = linux_resources(&p, &c, 1 << 30);
        assert_eq!(r.cpu_shares, 256);
        assert_eq!(r.cpu_quota, 50_000);
        assert_eq!(r.cpu_period, 100_000);
        assert_eq!(r.memory_limit_in_bytes, 64 << 20);
        assert!(r.oom_score_adj >= 2);
    }

    #[test]
    fn resource_field_refs() {
        let c = container(&[], &[("memory", "64Mi")]);
        let alloc = BTreeMap::new();
        let mi = Quantity("1Mi".into());
        assert_eq!(
            field_value(&c, "limits.memory", Some(&mi), &alloc).as_deref(),
            Some("64")
        );
        assert_eq!(
            field_value(&c, "requests.cpu", None, &alloc).as_deref(),
            Some("0")
        );
    }
}
