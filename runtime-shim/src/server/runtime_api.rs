//! `runtime.v1.RuntimeService` over [`Runtime`].

use std::sync::Arc;

use k8s_cri::v1::runtime_service_server::RuntimeService;
use k8s_cri::v1::*;
use tonic::{Request, Response, Status};

use crate::service::{Runtime, StreamRequest};
use crate::streaming::Streaming;

/// Name reported by Version.
pub const RUNTIME_NAME: &str = "skiff";
/// CRI API version implemented.
const RUNTIME_API_VERSION: &str = "v1";

pub struct RuntimeApi {
    runtime: Arc<Runtime>,
    streaming: Arc<Streaming>,
}

impl RuntimeApi {
    pub fn new(runtime: Arc<Runtime>, streaming: Arc<Streaming>) -> Self {
        Self { runtime, streaming }
    }

    fn network_condition(&self) -> RuntimeCondition {
        let (status, reason, message) = match self.runtime.network_ready() {
            Ok(()) => (true, String::new(), String::new()),
            Err(message) => (false, "NetworkPluginNotReady".to_string(), message),
        };
        RuntimeCondition {
            r#type: "NetworkReady".to_string(),
            status,
            reason,
            message,
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn log_error<T>(
    method: &str,
    result: Result<T, crate::service::ServiceError>,
) -> Result<T, Status> {
    result.map_err(|error| {
        tracing::warn!(method, %error, "CRI request failed");
        Status::from(error)
    })
}

#[tonic::async_trait]
impl RuntimeService for RuntimeApi {
    async fn version(&self, _request: Request<VersionRequest>) -> Reply<VersionResponse> {
        Ok(Response::new(VersionResponse {
            version: "0.1.0".to_string(),
            runtime_name: RUNTIME_NAME.to_string(),
            runtime_version: env!("CARGO_PKG_VERSION").to_string(),
            runtime_api_version: RUNTIME_API_VERSION.to_string(),
        }))
    }

    async fn run_pod_sandbox(
        &self,
        request: Request<RunPodSandboxRequest>,
    ) -> Reply<RunPodSandboxResponse> {
        let request = request.into_inner();
        let config = request
            .config
            .ok_or_else(|| Status::invalid_argument("config is required"))?;
        let id = log_error(
            "RunPodSandbox",
            self.runtime
                .run_pod_sandbox(config, request.runtime_handler)
                .await,
        )?;
        Ok(Response::new(RunPodSandboxResponse { pod_sandbox_id: id }))
    }

    async fn stop_pod_sandbox(
        &self,
        request: Request<StopPodSandboxRequest>,
    ) -> Reply<StopPodSandboxResponse> {
        let id = request.into_inner().pod_sandbox_id;
        log_error("StopPodSandbox", self.runtime.stop_pod_sandbox(&id).await)?;
        Ok(Response::new(StopPodSandboxResponse {}))
    }

    async fn remove_pod_sandbox(
        &self,
        request: Request<RemovePodSandboxRequest>,
    ) -> Reply<RemovePodSandboxResponse> {
        let id = request.into_inner().pod_sandbox_id;
        log_error(
            "RemovePodSandbox",
            self.runtime.remove_pod_sandbox(&id).await,
        )?;
        Ok(Response::new(RemovePodSandboxResponse {}))
    }

    async fn pod_sandbox_status(
        &self,
        request: Request<PodSandboxStatusRequest>,
    ) -> Reply<PodSandboxStatusResponse> {
        let id = request.into_inner().pod_sandbox_id;
        let status = self.runtime.pod_sandbox_status(&id)?;
        Ok(Response::new(PodSandboxStatusResponse {
            status: Some(status),
            ..Default::default()
        }))
    }

    async fn list_pod_sandbox(
        &self,
        request: Request<ListPodSandboxRequest>,
    ) -> Reply<ListPodSandboxResponse> {
        let items = self.runtime.list_pod_sandbox(request.into_inner().filter);
        Ok(Response::new(ListPodSandboxResponse { items }))
    }

    async fn create_container(
        &self,
        request: Request<CreateContainerRequest>,
    ) -> Reply<CreateContainerResponse> {
        let request = request.into_inner();
        let config = request
            .config
            .ok_or_else(|| Status::invalid_argument("config is required"))?;
        let id = log_error(
            "CreateContainer",
            self.runtime
                .create_container(&request.pod_sandbox_id, config)
                .await,
        )?;
        Ok(Response::new(CreateContainerResponse { container_id: id }))
    }

    async fn start_container(
        &self,
        request: Request<StartContainerRequest>,
    ) -> Reply<StartContainerResponse> {
        let id = request.into_inner().container_id;
        log_error("StartContainer", self.runtime.start_container(&id).await)?;
        Ok(Response::new(StartContainerResponse {}))
    }

    async fn stop_container(
        &self,
        request: Request<StopContainerRequest>,
    ) -> Reply<StopContainerResponse> {
        let request = request.into_inner();
        log_error(
            "StopContainer",
            self.runtime
                .stop_container(&request.container_id, request.timeout)
                .await,
        )?;
        Ok(Response::new(StopContainerResponse {}))
    }

    async fn remove_container(
        &self,
        request: Request<RemoveContainerRequest>,
    ) -> Reply<RemoveContainerResponse> {
        let id = request.into_inner().container_id;
        log_error("RemoveContainer", self.runtime.remove_container(&id).await)?;
        Ok(Response::new(RemoveContainerResponse {}))
    }

    async fn list_containers(
        &self,
        request: Request<ListContainersRequest>,
    ) -> Reply<ListContainersResponse> {
        let containers = self.runtime.list_containers(request.into_inner().filter);
        Ok(Response::new(ListContainersResponse { containers }))
    }

    async fn container_status(
        &self,
        request: Request<ContainerStatusRequest>,
    ) -> Reply<ContainerStatusResponse> {
        let id = request.into_inner().container_id;
        let status = self.runtime.container_status(&id)?;
        Ok(Response::new(ContainerStatusResponse {
            status: Some(status),
            info: Default::default(),
        }))
    }

    async fn update_container_resources(
        &self,
        request: Request<UpdateContainerResourcesRequest>,
    ) -> Reply<UpdateContainerResourcesResponse> {
        let request = request.into_inner();
        let resources = request
            .linux
            .ok_or_else(|| Status::invalid_argument("linux resources are required"))?;
        log_error(
            "UpdateContainerResources",
            self.runtime
                .update_container_resources(&request.container_id, resources)
                .await,
        )?;
        Ok(Response::new(UpdateContainerResourcesResponse {}))
    }

    async fn reopen_container_log(
        &self,
        request: Request<ReopenContainerLogRequest>,
    ) -> Reply<ReopenContainerLogResponse> {
        let id = request.into_inner().container_id;
        self.runtime.reopen_container_log(&id)?;
        Ok(Response::new(ReopenContainerLogResponse {}))
    }

    async fn exec_sync(&self, request: Request<ExecSyncRequest>) -> Reply<ExecSyncResponse> {
        let request = request.into_inner();
        let (stdout, stderr, exit_code) = log_error(
            "ExecSync",
            self.runtime
                .exec_sync(&request.container_id, &request.cmd, request.timeout)
                .await,
        )?;
        Ok(Response::new(ExecSyncResponse {
            stdout,
            stderr,
            exit_code,
        }))
    }

    async fn exec(&self, request: Request<ExecRequest>) -> Reply<ExecResponse> {
        let request = request.into_inner();
        if request.cmd.is_empty() {
            return Err(Status::invalid_argument("cmd must name the command to run"));
        }
        if !(request.stdin || request.stdout || request.stderr) {
            return Err(Status::invalid_argument(
                "one of stdin, stdout or stderr must be set",
            ));
        }
        // Fail early for a missing or stopped container.
        let status = self.runtime.container_status(&request.container_id)?;
        if status.state != ContainerState::ContainerRunning as i32 {
            return Err(Status::failed_precondition(format!(
                "container {} is not running",
                status.id
            )));
        }
        let url = self.streaming.url_for(StreamRequest {
            container_id: status.id,
            cmd: request.cmd,
            tty: request.tty,
            stdin: request.stdin,
            stdout: request.stdout,
            stderr: request.stderr && !request.tty,
            attach: false,
        });
        Ok(Response::new(ExecResponse { url }))
    }

    async fn attach(&self, request: Request<AttachRequest>) -> Reply<AttachResponse> {
        let request = request.into_inner();
        let status = self.runtime.container_status(&request.container_id)?;
        if status.state != ContainerState::ContainerRunning as i32 {
            return Err(Status::failed_precondition(format!(
                "container {} is not running",
                status.id
            )));
        }
        let url = self.streaming.url_for(StreamRequest {
            container_id: status.id,
            cmd: Vec::new(),
            tty: request.tty,
            stdin: request.stdin,
            stdout: request.stdout,
            stderr: request.stderr,
            attach: true,
        });
        Ok(Response::new(AttachResponse { url }))
    }

    async fn port_forward(
        &self,
        request: Request<PortForwardRequest>,
    ) -> Reply<PortForwardResponse> {
        // The ports in the request are advisory: each forwarded connection
        // names its port in a stream header, as with the kubelet.
        let target = self
            .runtime
            .port_forward_target(&request.into_inner().pod_sandbox_id)?;
        let url = self.streaming.port_forward_url(target);
        Ok(Response::new(PortForwardResponse { url }))
    }

    async fn container_stats(
        &self,
        request: Request<ContainerStatsRequest>,
    ) -> Reply<ContainerStatsResponse> {
        let id = request.into_inner().container_id;
        let stats = self.runtime.container_stats(&id)?;
        Ok(Response::new(ContainerStatsResponse { stats: Some(stats) }))
    }

    async fn list_container_stats(
        &self,
        request: Request<ListContainerStatsRequest>,
    ) -> Reply<ListContainerStatsResponse> {
        let stats = self
            .runtime
            .list_container_stats(request.into_inner().filter);
        Ok(Response::new(ListContainerStatsResponse { stats }))
    }

    async fn pod_sandbox_stats(
        &self,
        _request: Request<PodSandboxStatsRequest>,
    ) -> Reply<PodSandboxStatsResponse> {
        Err(Status::unimplemented(
            "PodSandboxStats is not supported by skiff",
        ))
    }

    async fn list_pod_sandbox_stats(
        &self,
        _request: Request<ListPodSandboxStatsRequest>,
    ) -> Reply<ListPodSandboxStatsResponse> {
        Err(Status::unimplemented(
            "ListPodSandboxStats is not supported by skiff",
        ))
    }

    async fn update_runtime_config(
        &self,
        _request: Request<UpdateRuntimeConfigRequest>,
    ) -> Reply<UpdateRuntimeConfigResponse> {
        // The pod CIDR comes from the shim's own CNI configuration.
        Ok(Response::new(UpdateRuntimeConfigResponse {}))
    }

    async fn status(&self, _request: Request<StatusRequest>) -> Reply<StatusResponse> {
        let conditions = vec![
            RuntimeCondition {
                r#type: "RuntimeReady".to_string(),
                status: true,
                reason: String::new(),
                message: String::new(),
            },
            self.network_condition(),
        ];
        Ok(Response::new(StatusResponse {
            status: Some(RuntimeStatus { conditions }),
            ..Default::default()
        }))
    }

    async fn checkpoint_container(
        &self,
        _request: Request<CheckpointContainerRequest>,
    ) -> Reply<CheckpointContainerResponse> {
        Err(Status::unimplemented(
            "CheckpointContainer is not supported by skiff",
        ))
    }

    type GetContainerEventsStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<ContainerEventResponse, Status>> + Send + 'static>,
    >;

    async fn get_container_events(
        &self,
        _request: Request<GetEventsRequest>,
    ) -> Reply<Self::GetContainerEventsStream> {
        Err(Status::unimplemented(
            "GetContainerEvents is not supported by skiff",
        ))
    }

    async fn list_metric_descriptors(
        &self,
        _request: Request<ListMetricDescriptorsRequest>,
    ) -> Reply<ListMetricDescriptorsResponse> {
        Ok(Response::new(ListMetricDescriptorsResponse::default()))
    }

    async fn list_pod_sandbox_metrics(
        &self,
        _request: Request<ListPodSandboxMetricsRequest>,
    ) -> Reply<ListPodSandboxMetricsResponse> {
        Ok(Response::new(ListPodSandboxMetricsResponse::default()))
    }

    async fn runtime_config(
        &self,
        _request: Request<RuntimeConfigRequest>,
    ) -> Reply<RuntimeConfigResponse> {
        Ok(Response::new(RuntimeConfigResponse::default()))
    }
}
