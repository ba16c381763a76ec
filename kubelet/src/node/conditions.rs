//! The node conditions: Ready and the three pressure conditions.

use k8s_cri::v1::StatusRequest;
use k8s_openapi::api::core::v1::NodeCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::context::Context;
use crate::node::capacity::{filesystem_bytes, meminfo_kib};

/// One condition before timestamps are attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

/// Observes every condition now.
pub async fn observe(ctx: &Context) -> Vec<Observed> {
    vec![
        ready(ctx).await,
        memory_pressure(),
        disk_pressure(ctx),
        pid_pressure(),
    ]
}

/// Turns observations into API conditions, keeping lastTransitionTime of
/// conditions whose status did not change.
pub fn to_conditions(
    observed: &[Observed],
    previous: &[NodeCondition],
    now: &Time,
) -> Vec<NodeCondition> {
    observed
        .iter()
        .map(|o| {
            let status = if o.status { "True" } else { "False" }.to_string();
            let transition = previous
                .iter()
                .find(|p| p.type_ == o.type_ && p.status == status)
                .and_then(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            NodeCondition {
                type_: o.type_.to_string(),
                status,
                reason: Some(o.reason.clone()),
                message: Some(o.message.clone()),
                last_heartbeat_time: Some(now.clone()),
                last_transition_time: Some(transition),
            }
        })
        .collect()
}

async fn ready(ctx: &Context) -> Observed {
    let not_ready = |message: String| Observed {
        type_: "Ready",
        status: false,
        reason: "KubeletNotReady".to_string(),
        message,
    };
    let mut runtime = ctx.runtime.runtime.clone();
    let status = match runtime.status(StatusRequest { verbose: false }).await {
        Ok(response) => response.into_inner().status,
        Err(error) => return not_ready(format!("container runtime is down: {}", error.message())),
    };
    let conditions = status.map(|s| s.conditions).unwrap_or_default();
    for wanted in ["RuntimeReady", "NetworkReady"] {
        match conditions.iter().find(|c| c.r#type == wanted) {
            Some(c) if c.status => {}
            Some(c) => {
                let what = if wanted == "NetworkReady" {
                    "network"
                } else {
                    "runtime"
                };
                return not_ready(format!(
                    "container runtime {what} not ready: {wanted}=false reason:{} message:{}",
                    c.reason, c.message
                ));
            }
            None => {}
        }
    }
    Observed {
        type_: "Ready",
        status: true,
        reason: "KubeletReady".to_string(),
        message: "kubelet is posting ready status".to_string(),
    }
}

fn memory_pressure() -> Observed {
    let available = meminfo_kib("MemAvailable").unwrap_or(u64::MAX);
    if available < 100 * 1024 {
        Observed {
            type_: "MemoryPressure",
            status: true,
            reason: "KubeletHasInsufficientMemory".to_string(),
            message: "kubelet has insufficient memory available".to_string(),
        }
    } else {
        Observed {
            type_: "MemoryPressure",
            status: false,
            reason: "KubeletHasSufficientMemory".to_string(),
            message: "kubelet has sufficient memory available".to_string(),
        }
    }
}

fn disk_pressure(ctx: &Context) -> Observed {
    let low = filesystem_bytes(&ctx.config.root_dir)
        .is_some_and(|(total, available)| total > 0 && available * 10 < total);
    if low {
        Observed {
            type_: "DiskPressure",
            status: true,
            reason: "KubeletHasDiskPressure".to_string(),
            message: "kubelet has disk pressure".to_string(),
        }
    } else {
        Observed {
            type_: "DiskPressure",
            status: false,
            reason: "KubeletHasNoDiskPressure".to_string(),
            message: "kubelet has no disk pressure".to_string(),
        }
    }
}

fn pid_pressure() -> Observed {
    let max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let running = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0);
    if running * 10 > max * 9 {
        Observed {
            type_: "PIDPressure",
            status: true,
            reason: "KubeletHasInsufficientPID".to_string(),
            message: "kubelet has insufficient PID available".to_string(),
        }
    } else {
        Observed {
            type_: "PIDPressure",
            status: false,
            reason: "KubeletHasSufficientPID".to_string(),
            message: "kubelet has sufficient PID available".to_string(),
        }
    }
}
