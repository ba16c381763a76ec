//! The pod status the kubelet reports, computed from the runtime snapshot,
//! the worker's waiting reasons and the probe results.

use std::collections::HashMap;

use k8s_cri::v1::ContainerStatus as CriStatus;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::probe::Prober;
use super::resources::qos_class;
use super::snapshot::{Ctr, Snapshot};

/// A waiting reason and message set by the worker.
pub type Waiting = HashMap<String, (String, String)>;

/// What the status is computed from.
pub struct Inputs<'a> {
    pub pod: &'a Pod,
    pub snapshot: &'a Snapshot,
    pub waiting: &'a Waiting,
    pub probes: &'a Prober,
    pub host_ip: &'a str,
    /// Prefix of container IDs, such as `containerd://`.
    pub runtime_name: &'a str,
    pub now: Time,
}

fn time(nanos: i64) -> Option<Time> {
    (nanos > 0)
        .then(|| Timestamp::from_nanosecond(i128::from(nanos)).ok().map(Time))
        .flatten()
}

fn terminated(c: &Ctr, runtime: &str) -> ContainerStateTerminated {
    let s: &CriStatus = &c.status;
    ContainerStateTerminated {
        exit_code: s.exit_code,
        reason: Some(if s.reason.is_empty() {
            if s.exit_code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            }
        } else {
            s.reason.clone()
        }),
        message: (!s.message.is_empty()).then(|| s.message.clone()),
        started_at: time(s.started_at),
        finished_at: time(s.finished_at),
        container_id: Some(format!("{runtime}://{}", c.id)),
        signal: None,
    }
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: (!message.is_empty()).then(|| message.to_string()),
        }),
        ..Default::default()
    }
}

/// Computes the status of one container.
pub fn container_status(
    inputs: &Inputs<'_>,
    container: &Container,
    default_waiting: &str,
) -> ContainerStatus {
    let snapshot = inputs.snapshot;
    let latest = snapshot.latest(&container.name);
    let previous = snapshot.previous(&container.name);
    let runtime = inputs.runtime_name;
    let worker_waiting = inputs.waiting.get(&container.name);
    let probe = latest.and_then(|c| inputs.probes.results(&c.id));
    let (state, last) = match (latest, worker_waiting) {
        (Some(c), _) if c.running() => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: time(c.status.started_at),
                }),
                ..Default::default()
            },
            previous
                .filter(|p| p.exited())
                .map(|p| terminated(p, runtime)),
        ),
        (Some(c), Some((reason, message))) if c.exited() => {
            (waiting(reason, message), Some(terminated(c, runtime)))
        }
        (Some(c), None) if c.exited() => (
            ContainerState {
                terminated: Some(terminated(c, runtime)),
                ..Default::default()
            },
            previous
                .filter(|p| p.exited())
                .map(|p| terminated(p, runtime)),
        ),
        (_, Some((reason, message))) => (
            waiting(reason, message),
            latest
                .or(previous)
                .filter(|p| p.exited())
                .map(|p| terminated(p, runtime)),
        ),
        (_, None) => (
            waiting(default_waiting, ""),
            previous
                .filter(|p| p.exited())
                .map(|p| terminated(p, runtime)),
        ),
    };
    let running = state.running.is_some();
    ContainerStatus {
        name: container.name.clone(),
        image: container.image.clone().unwrap_or_default(),
        image_id: latest
            .map(|c| c.status.image_ref.clone())
            .unwrap_or_default(),
        container_id: latest.map(|c| format!("{runtime}://{}", c.id)),
        restart_count: latest.map_or(0, |c| c.attempt as i32),
        ready: running && probe.is_some_and(|p| p.ready && p.started),
        started: Some(running && probe.is_none_or(|p| p.started)),
        state: Some(state),
        last_state: Some(ContainerState {
            terminated: last,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Computes the whole pod status.
pub fn compute(inputs: &Inputs<'_>, init_done: bool) -> PodStatus {
    let pod = inputs.pod;
    let spec = pod.spec.clone().unwrap_or_default();
    let old = pod.status.clone().unwrap_or_default();
    let init_statuses: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| container_status(inputs, c, "PodInitializing"))
        .collect();
    let app_default = if init_done {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(inputs, c, app_default))
        .collect();
    let restart = spec.restart_policy.as_deref().unwrap_or("Always");
    let phase = phase(&init_statuses, &statuses, restart, init_done);
    let host_network = spec.host_network == Some(true);
    let pod_ip = if host_network {
        Some(inputs.host_ip.to_string())
    } else {
        inputs.snapshot.pod_ip.clone().or(old.pod_ip.clone())
    };
    let conditions = conditions(inputs, &init_statuses, &statuses, &phase, init_done, &old);
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: Some(inputs.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: inputs.host_ip.to_string(),
        }]),
        pod_ip: pod_ip.clone(),
        pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
        start_time: old.start_time.clone().or_else(|| Some(inputs.now.clone())),
        qos_class: Some(qos_class(pod).to_string()),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        ..Default::default()
    }
}

/// Kubernetes' pod phase rules.
fn phase(
    init: &[ContainerStatus],
    app: &[ContainerStatus],
    restart: &str,
    init_done: bool,
) -> String {
    let failed_init = init.iter().any(|s| {
        s.state
            .as_ref()
            .and_then(|st| st.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
    });
    if failed_init && restart == "Never" {
        return "Failed".into();
    }
    if !init_done {
        return "Pending".into();
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in app {
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .is_some()
        {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending".into();
    }
    if running > 0 {
        return "Running".into();
    }
    if stopped > 0 {
        if restart == "Always" {
            return "Running".into();
        }
        if stopped == succeeded {
            return "Succeeded".into();
        }
        if restart == "Never" {
            return "Failed".into();
        }
        // OnFailure: any container that failed restarts.
        let all_final = app.iter().all(|s| {
            s.state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0)
        });
        return if all_final {
            "Succeeded".into()
        } else {
            "Running".into()
        };
    }
    "Pending".into()
}

fn conditions(
    inputs: &Inputs<'_>,
    init: &[ContainerStatus],
    app: &[ContainerStatus],
    phase: &str,
    init_done: bool,
    old: &PodStatus,
) -> Vec<PodCondition> {
    let names = |list: &[ContainerStatus], pred: &dyn Fn(&ContainerStatus) -> bool| {
        list.iter()
            .filter(|s| pred(s))
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    let incomplete = names(init, &|s| {
        s.state
            .as_ref()
            .and_then(|st| st.terminated.as_ref())
            .is_none_or(|t| t.exit_code != 0)
    });
    let unready = names(app, &|s| !s.ready);
    let completed = phase == "Succeeded";
    let sandbox_ready = inputs.snapshot.ready_sandbox().is_some();
    let mut out = vec![
        cond("PodReadyToStartContainers", sandbox_ready, None, None),
        if init_done {
            cond(
                "Initialized",
                true,
                completed.then_some("PodCompleted"),
                None,
            )
        } else {
            cond(
                "Initialized",
                false,
                Some("ContainersNotInitialized"),
                Some(format!(
                    "containers with incomplete status: [{}]",
                    incomplete.join(" ")
                )),
            )
        },
    ];
    for kind in ["Ready", "ContainersReady"] {
        out.push(if unready.is_empty() && !completed {
            cond(kind, true, None, None)
        } else if completed {
            cond(kind, false, Some("PodCompleted"), None)
        } else {
            cond(
                kind,
                false,
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        });
    }
    out.push(cond("PodScheduled", true, None, None));
    let previous = old.conditions.clone().unwrap_or_default();
    for c in &mut out {
        let keep = previous
            .iter()
            .find(|p| p.type_ == c.type_ && p.status == c.status);
        c.last_transition_time = keep
            .and_then(|p| p.last_transition_time.clone())
            .or_else(|| Some(inputs.now.clone()));
    }
    out
}

fn cond(kind: &str, status: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: kind.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.map(String::from),
        message,
        ..Default::default()
    }
}
