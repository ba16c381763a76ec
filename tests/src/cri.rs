//! CRI client helpers shared by the runtime suites: sandbox and container
//! configs, starting containers, waiting for them to exit, and clients that
//! wait until a runtime serves.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatus, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, PodSandboxConfig, PodSandboxMetadata, PortMapping,
    PullImageRequest, RemovePodSandboxRequest, RunPodSandboxRequest, StartContainerRequest,
    StopPodSandboxRequest, VersionRequest,
};
use tonic::transport::Channel;

use crate::node::CriRuntime;
use crate::shim::connect;

/// A CRI runtime service client.
pub type Client = RuntimeServiceClient<Channel>;

/// How long a container gets to reach a state the tests wait for.
pub const WAIT: Duration = Duration::from_secs(60);

/// Builds a sandbox config named `name` (also its uid and hostname) in `default`,
/// labelled `app=<name>`, with its logs under `log_dir`.
pub fn sandbox_config(
    name: &str,
    port_mappings: Vec<PortMapping>,
    log_dir: &Path,
) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.to_string(),
            uid: format!("uid-{name}"),
            namespace: "default".to_string(),
            attempt: 0,
        }),
        hostname: name.to_string(),
        log_directory: log_dir.display().to_string(),
        port_mappings,
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        ..Default::default()
    }
}

/// Builds a container config named `name` running `command` (the image's own
/// command when empty), labelled `container=<name>`.
pub fn container_config(
    name: &str,
    image: impl std::fmt::Display,
    command: &[&str],
) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.to_string(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        command: command.iter().map(|part| part.to_string()).collect(),
        log_path: format!("{name}/0.log"),
        labels: HashMap::from([("container".to_string(), name.to_string())]),
        ..Default::default()
    }
}

/// Runs a pod sandbox and returns its id.
pub async fn run_sandbox(client: &mut Client, config: PodSandboxConfig) -> anyhow::Result<String> {
    let response = client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        })
        .await?;
    Ok(response.into_inner().pod_sandbox_id)
}

/// Creates and starts a container in a sandbox and returns its id.
pub async fn start(
    client: &mut Client,
    sandbox_id: &str,
    sandbox: &PodSandboxConfig,
    config: ContainerConfig,
) -> anyhow::Result<String> {
    let id = client
        .create_container(CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            config: Some(config),
            sandbox_config: Some(sandbox.clone()),
        })
        .await?
        .into_inner()
        .container_id;
    client
        .start_container(StartContainerRequest {
            container_id: id.clone(),
        })
        .await?;
    Ok(id)
}

/// Returns a container's status.
pub async fn status(client: &mut Client, id: &str) -> anyhow::Result<ContainerStatus> {
    let response = client
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        })
        .await?;
    response.into_inner().status.context("status missing")
}

/// Waits until a container exited and returns its status.
pub async fn wait_exited(client: &mut Client, id: &str) -> anyhow::Result<ContainerStatus> {
    let deadline = Instant::now() + WAIT;
    loop {
        let current = status(client, id).await?;
        if current.state == ContainerState::ContainerExited as i32 {
            return Ok(current);
        }
        if Instant::now() > deadline {
            bail!(
                "container {id} still in state {} after {WAIT:?}",
                current.state
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Connects runtime and image clients once the runtime serves CRI calls:
/// containerd opens its socket before its CRI plugin is ready.
pub async fn clients(
    runtime: &CriRuntime,
) -> anyhow::Result<(Client, ImageServiceClient<Channel>)> {
    let channel = connect(runtime.socket()).await?;
    let mut probe = RuntimeServiceClient::new(channel.clone());
    let deadline = Instant::now() + WAIT;
    while let Err(status) = probe.version(VersionRequest::default()).await {
        if Instant::now() > deadline {
            bail!("the runtime never served CRI calls: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok((
        RuntimeServiceClient::new(channel.clone()),
        ImageServiceClient::new(channel),
    ))
}

/// Pulls `images` into the runtime.
pub async fn pull(runtime: &CriRuntime, images: &[&str]) -> anyhow::Result<()> {
    let (_, mut image_client) = clients(runtime).await?;
    for image in images {
        image_client
            .pull_image(PullImageRequest {
                image: Some(ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await?;
    }
    Ok(())
}

/// Stops and then removes a pod sandbox, in the order the kubelet uses.
pub async fn remove_sandbox(client: &mut Client, sandbox_id: &str) -> anyhow::Result<()> {
    client
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_string(),
        })
        .await?;
    client
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_string(),
        })
        .await?;
    Ok(())
}
