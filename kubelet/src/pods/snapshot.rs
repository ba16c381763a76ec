//! What the runtime holds for one pod: its sandboxes and containers, read
//! fresh from CRI on every sync so a restarted kubelet finds the same state.

use std::collections::HashMap;

use k8s_cri::v1::{
    ContainerFilter, ContainerState, ContainerStatus, ContainerStatusRequest,
    ListContainersRequest, ListPodSandboxRequest, PodSandbox, PodSandboxFilter, PodSandboxState,
    PodSandboxStatusRequest,
};

use crate::cri::{CriError, Runtime, labels};

/// One container as CRI reports it.
#[derive(Clone, Debug)]
pub struct Ctr {
    pub id: String,
    pub name: String,
    pub attempt: u32,
    pub sandbox_id: String,
    pub status: ContainerStatus,
}

impl Ctr {
    pub fn state(&self) -> ContainerState {
        ContainerState::try_from(self.status.state).unwrap_or(ContainerState::ContainerUnknown)
    }

    pub fn running(&self) -> bool {
        self.state() == ContainerState::ContainerRunning
    }

    pub fn exited(&self) -> bool {
        self.state() == ContainerState::ContainerExited
    }
}

/// The pod's sandboxes (newest first) and containers.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub sandboxes: Vec<PodSandbox>,
    pub containers: Vec<Ctr>,
    /// Pod IP of the ready sandbox.
    pub pod_ip: Option<String>,
}

impl Snapshot {
    /// Reads the runtime's view of pod `uid`.
    pub async fn load(runtime: &Runtime, uid: &str) -> Result<Snapshot, CriError> {
        let mut rt = runtime.runtime.clone();
        let selector: HashMap<String, String> = [(labels::POD_UID.to_string(), uid.to_string())]
            .into_iter()
            .collect();
        let mut sandboxes = rt
            .list_pod_sandbox(ListPodSandboxRequest {
                filter: Some(PodSandboxFilter {
                    label_selector: selector.clone(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(CriError::call("ListPodSandbox"))?
            .into_inner()
            .items;
        sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let listed = rt
            .list_containers(ListContainersRequest {
                filter: Some(ContainerFilter {
                    label_selector: selector,
                    ..Default::default()
                }),
            })
            .await
            .map_err(CriError::call("ListContainers"))?
            .into_inner()
            .containers;
        let mut containers = Vec::with_capacity(listed.len());
        for c in listed {
            let status = match rt
                .container_status(ContainerStatusRequest {
                    container_id: c.id.clone(),
                    verbose: false,
                })
                .await
            {
                Ok(r) => r.into_inner().status,
                Err(s) if s.code() == tonic::Code::NotFound => continue,
                Err(s) => {
                    return Err(CriError::Call {
                        call: "ContainerStatus",
                        status: s,
                    });
                }
            };
            let Some(status) = status else { continue };
            let meta = c.metadata.clone().unwrap_or_default();
            containers.push(Ctr {
                id: c.id,
                name: meta.name,
                attempt: meta.attempt,
                sandbox_id: c.pod_sandbox_id,
                status,
            });
        }
        let mut snapshot = Snapshot {
            sandboxes,
            containers,
            pod_ip: None,
        };
        if let Some(ready) = snapshot.ready_sandbox() {
            let id = ready.id.clone();
            let status = rt
                .pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: id,
                    verbose: false,
                })
                .await
                .map_err(CriError::call("PodSandboxStatus"))?
                .into_inner();
            snapshot.pod_ip = status
                .status
                .and_then(|s| s.network)
                .map(|n| n.ip)
                .filter(|ip| !ip.is_empty());
        }
        Ok(snapshot)
    }

    /// Returns the newest sandbox, if it is ready.
    pub fn ready_sandbox(&self) -> Option<&PodSandbox> {
        self.sandboxes
            .first()
            .filter(|s| s.state == PodSandboxState::SandboxReady as i32)
    }

    /// Returns every container named `name`, newest attempt first.
    pub fn attempts(&self, name: &str) -> Vec<&Ctr> {
        let mut all: Vec<&Ctr> = self.containers.iter().filter(|c| c.name == name).collect();
        all.sort_by_key(|c| std::cmp::Reverse((c.attempt, c.status.created_at)));
        all
    }

    /// Returns the newest container named `name`.
    pub fn latest(&self, name: &str) -> Option<&Ctr> {
        self.attempts(name).into_iter().next()
    }

    /// Returns the container before the newest one named `name`.
    pub fn previous(&self, name: &str) -> Option<&Ctr> {
        self.attempts(name).into_iter().nth(1)
    }

    /// Returns the attempt number a new container named `name` gets.
    pub fn next_attempt(&self, name: &str) -> u32 {
        self.latest(name).map_or(0, |c| c.attempt + 1)
    }
}
