//! Creating and starting one container: its CRI configuration from the pod
//! spec, the resolved environment and the volume paths.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use k8s_cri::v1::{
    Capability, ContainerConfig, ContainerMetadata, CreateContainerRequest, ImageSpec, KeyValue,
    LinuxContainerConfig, LinuxContainerSecurityContext, Mount, PodSandboxConfig,
    StartContainerRequest,
};
use k8s_openapi::api::core::v1::{Container, Pod};
use skiff_events::EventType;

use super::{env, resources, sandbox};
use crate::context::Context;
use crate::cri::{CriError, labels};

/// Why a container could not be created; `reason` is its waiting reason.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    pub reason: &'static str,
    pub message: String,
}

impl StartError {
    pub fn new(reason: &'static str, message: impl Into<String>) -> StartError {
        StartError {
            reason,
            message: message.into(),
        }
    }
}

/// Everything needed to create one container.
pub struct Spec<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub init: bool,
    pub attempt: u32,
    pub env: Vec<(String, String)>,
    pub volumes: &'a HashMap<String, PathBuf>,
    pub memory_capacity: i128,
}

/// Creates and starts the container in `sandbox_id`. Returns its id.
pub async fn create_and_start(
    ctx: &Context,
    sandbox_id: &str,
    sandbox_config: &PodSandboxConfig,
    spec: &Spec<'_>,
) -> Result<String, StartError> {
    let config = config(ctx, spec)?;
    let log_dir = Path::new(&sandbox_config.log_directory).join(&spec.container.name);
    std::fs::create_dir_all(&log_dir).ok();
    let mut rt = ctx.runtime.runtime.clone();
    let id = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            config: Some(config),
            sandbox_config: Some(sandbox_config.clone()),
        })
        .await
        .map_err(|s| StartError::new("CreateContainerError", s.message()))?
        .into_inner()
        .container_id;
    let name = &spec.container.name;
    ctx.container_event(
        spec.pod,
        name,
        EventType::Normal,
        "Created",
        format!("Created container: {name}"),
    );
    rt.start_container(StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .map_err(|s| StartError::new("RunContainerError", s.message()))?;
    ctx.container_event(
        spec.pod,
        name,
        EventType::Normal,
        "Started",
        format!("Started container {name}"),
    );
    Ok(id)
}

fn config(ctx: &Context, spec: &Spec<'_>) -> Result<ContainerConfig, StartError> {
    let pod = spec.pod;
    let c = spec.container;
    let mut container_labels = sandbox::pod_labels(ctx, pod)
        .into_iter()
        .filter(|(k, _)| k.starts_with("io.kubernetes.") || k.starts_with("skiff.dev/"))
        .collect::<HashMap<_, _>>();
    container_labels.insert(labels::CONTAINER_NAME.into(), c.name.clone());
    container_labels.insert(
        labels::CONTAINER_KIND.into(),
        if spec.init { "init" } else { "app" }.into(),
    );
    let mut annotations = HashMap::new();
    annotations.insert(
        labels::ANNOTATION_RESTART_COUNT.to_string(),
        spec.attempt.to_string(),
    );
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    annotations.insert(labels::ANNOTATION_GRACE.to_string(), grace.to_string());
    let security = c.security_context.clone().unwrap_or_default();
    let pod_security = pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.clone())
        .unwrap_or_default();
    let capabilities = security.capabilities.clone().map(|caps| Capability {
        add_capabilities: caps.add.unwrap_or_default(),
        drop_capabilities: caps.drop.unwrap_or_default(),
        ..Default::default()
    });
    Ok(ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: c.name.clone(),
            attempt: spec.attempt,
        }),
        image: Some(ImageSpec {
            image: c.image.clone().unwrap_or_default(),
            user_specified_image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: env::expand_all(c.command.as_deref().unwrap_or_default(), &spec.env),
        args: env::expand_all(c.args.as_deref().unwrap_or_default(), &spec.env),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: spec
            .env
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        mounts: mounts(spec)?,
        labels: container_labels,
        annotations,
        log_path: format!("{}/{}.log", c.name, spec.attempt),
        stdin: c.stdin == Some(true),
        stdin_once: c.stdin_once == Some(true),
        tty: c.tty == Some(true),
        linux: Some(LinuxContainerConfig {
            resources: Some(resources::linux_resources(pod, c, spec.memory_capacity)),
            security_context: Some(LinuxContainerSecurityContext {
                capabilities,
                privileged: security.privileged == Some(true),
                namespace_options: Some(sandbox::namespace_options(pod)),
                run_as_user: security
                    .run_as_user
                    .or(pod_security.run_as_user)
                    .map(|value| k8s_cri::v1::Int64Value { value }),
                run_as_group: security
                    .run_as_group
                    .or(pod_security.run_as_group)
                    .map(|value| k8s_cri::v1::Int64Value { value }),
                readonly_rootfs: security.read_only_root_filesystem == Some(true),
                supplemental_groups: pod_security.supplemental_groups.clone().unwrap_or_default(),
                no_new_privs: security.allow_privilege_escalation == Some(false),
                ..Default::default()
            }),
        }),
        ..Default::default()
    })
}

/// Returns the volume mounts of the container as host paths.
fn mounts(spec: &Spec<'_>) -> Result<Vec<Mount>, StartError> {
    let pod_volumes = spec
        .pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten());
    let projected: Vec<&str> = pod_volumes
        .filter(|v| {
            v.config_map.is_some()
                || v.secret.is_some()
                || v.downward_api.is_some()
                || v.projected.is_some()
        })
        .map(|v| v.name.as_str())
        .collect();
    let mut out = Vec::new();
    for m in spec.container.volume_mounts.iter().flatten() {
        let Some(base) = spec.volumes.get(&m.name) else {
            return Err(StartError::new(
                "CreateContainerConfigError",
                format!(
                    "cannot find volume \"{}\" to mount into container \"{}\"",
                    m.name, spec.container.name
                ),
            ));
        };
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(p), _) if !p.is_empty() => Some(p.clone()),
            (_, Some(e)) if !e.is_empty() => {
                Some(env::expand_all(std::slice::from_ref(e), &spec.env).remove(0))
            }
            _ => None,
        };
        let is_projected = projected.contains(&m.name.as_str());
        let host = match sub {
            Some(sub) => sub_path(base, &sub, is_projected)?,
            None => base.clone(),
        };
        out.push(Mount {
            container_path: m.mount_path.clone(),
            host_path: host.to_string_lossy().into_owned(),
            readonly: m.read_only == Some(true) || is_projected,
            ..Default::default()
        });
    }
    Ok(out)
}

/// The host path of a subPath inside a volume; made when missing (except in
/// projected volumes) and never outside the volume.
fn sub_path(base: &Path, sub: &str, projected: bool) -> Result<PathBuf, StartError> {
    let escapes = Path::new(sub)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(StartError::new(
            "CreateContainerConfigError",
            format!(
                "failed to prepare subPath for volumeMount: subPath {sub:?} must be a relative path without '..'"
            ),
        ));
    }
    let path = base.join(sub);
    if projected {
        return path.canonicalize().map_err(|e| {
            StartError::new(
                "CreateContainerConfigError",
                format!("failed to prepare subPath {sub:?}: {e}"),
            )
        });
    }
    if std::fs::symlink_metadata(&path).is_err() {
        std::fs::create_dir_all(&path).map_err(|e| {
            StartError::new(
                "CreateContainerConfigError",
                format!("failed to create subPath directory {sub:?}: {e}"),
            )
        })?;
    }
    Ok(path)
}

/// Stops a container, giving it `grace_seconds` before SIGKILL.
pub async fn stop(ctx: &Context, id: &str, grace_seconds: i64) -> Result<(), CriError> {
    let mut rt = ctx.runtime.runtime.clone();
    rt.stop_container(k8s_cri::v1::StopContainerRequest {
        container_id: id.to_string(),
        timeout: grace_seconds.max(0),
    })
    .await
    .map_err(CriError::call("StopContainer"))?;
    Ok(())
}

/// Removes a container.
pub async fn remove(ctx: &Context, id: &str) -> Result<(), CriError> {
    let mut rt = ctx.runtime.runtime.clone();
    rt.remove_container(k8s_cri::v1::RemoveContainerRequest {
        container_id: id.to_string(),
    })
    .await
    .map_err(CriError::call("RemoveContainer"))?;
    Ok(())
}
