//! Image pulls that follow the pull policy, with the pod's pull secrets.

use base64::Engine;
use k8s_cri::v1::{AuthConfig, ImageSpec, ImageStatusRequest, PodSandboxConfig, PullImageRequest};
use k8s_openapi::api::core::v1::{Container, Pod, Secret};
use kube::api::Api;
use skiff_events::EventType;

use crate::context::Context;

/// Why an image is not available; the reason is the container's waiting reason.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("Container image \"{0}\" is not present with pull policy of Never")]
    NeverPull(String),
    #[error("Failed to pull image \"{image}\": {message}")]
    Failed { image: String, message: String },
}

impl PullError {
    pub fn reason(&self) -> &'static str {
        match self {
            PullError::NeverPull(_) => "ErrImageNeverPull",
            PullError::Failed { .. } => "ErrImagePull",
        }
    }
}

/// Returns the effective pull policy of a container.
pub fn policy(container: &Container) -> String {
    if let Some(policy) = container
        .image_pull_policy
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        return policy.to_string();
    }
    let image = container.image.as_deref().unwrap_or_default();
    if image.contains('@') {
        return "IfNotPresent".to_string();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always".to_string(),
        Some(_) => "IfNotPresent".to_string(),
    }
}

/// Makes the container's image available. Returns whether a pull happened.
pub async fn ensure(
    ctx: &Context,
    pod: &Pod,
    container: &Container,
    sandbox: &PodSandboxConfig,
) -> Result<bool, PullError> {
    let image = container.image.clone().unwrap_or_default();
    let policy = policy(container);
    if policy != "Always" && present(ctx, &image).await {
        ctx.container_event(
            pod,
            &container.name,
            EventType::Normal,
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
        );
        return Ok(false);
    }
    if policy == "Never" {
        ctx.container_event(
            pod,
            &container.name,
            EventType::Warning,
            "ErrImageNeverPull",
            format!("Container image \"{image}\" is not present with pull policy of Never"),
        );
        return Err(PullError::NeverPull(image));
    }
    ctx.container_event(
        pod,
        &container.name,
        EventType::Normal,
        "Pulling",
        format!("Pulling image \"{image}\""),
    );
    let started = std::time::Instant::now();
    let auths = auths_for(ctx, pod, &image).await;
    let mut last_error = String::new();
    for auth in auths.into_iter().map(Some).chain(std::iter::once(None)) {
        let request = PullImageRequest {
            image: Some(ImageSpec {
                image: image.clone(),
                ..Default::default()
            }),
            auth,
            sandbox_config: Some(sandbox.clone()),
        };
        let mut images = ctx.runtime.images.clone();
        match images.pull_image(request).await {
            Ok(_) => {
                tracing::info!(image = %image, "pulled image");
                let took = started.elapsed().as_secs_f64();
                ctx.container_event(
                    pod,
                    &container.name,
                    EventType::Normal,
                    "Pulled",
                    format!(
                        "Successfully pulled image \"{image}\" in {took:.3}s ({took:.3}s including waiting)"
                    ),
                );
                return Ok(true);
            }
            Err(status) => last_error = status.message().to_string(),
        }
    }
    ctx.container_event(
        pod,
        &container.name,
        EventType::Warning,
        "Failed",
        format!("Failed to pull image \"{image}\": {last_error}"),
    );
    Err(PullError::Failed {
        image,
        message: last_error,
    })
}

async fn present(ctx: &Context, image: &str) -> bool {
    let mut images = ctx.runtime.images.clone();
    let request = ImageStatusRequest {
        image: Some(ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        verbose: false,
    };
    matches!(images.image_status(request).await, Ok(r) if r.get_ref().image.is_some())
}

/// Credentials from the pod's imagePullSecrets whose registry matches.
async fn auths_for(ctx: &Context, pod: &Pod, image: &str) -> Vec<AuthConfig> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let registry = registry_of(image);
    let mut out = Vec::new();
    let refs = pod
        .spec
        .iter()
        .flat_map(|s| s.image_pull_secrets.iter().flatten());
    for reference in refs {
        let Ok(Some(secret)) = secrets.get_opt(&reference.name).await else {
            tracing::warn!(secret = %reference.name, "image pull secret not found");
            continue;
        };
        let data = secret.data.unwrap_or_default();
        let config = data
            .get(".dockerconfigjson")
            .and_then(|v| serde_json::from_slice::<serde_json::Value>(&v.0).ok())
            .and_then(|v| v.get("auths").cloned())
            .or_else(|| {
                data.get(".dockercfg")
                    .and_then(|v| serde_json::from_slice::<serde_json::Value>(&v.0).ok())
            });
        if let Some(serde_json::Value::Object(entries)) = config {
            for (server, entry) in entries {
                if normalize_server(&server) == registry {
                    out.push(auth_config(&server, &entry));
                }
            }
        }
    }
    out
}

fn auth_config(server: &str, entry: &serde_json::Value) -> AuthConfig {
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut username = field("username");
    let mut password = field("password");
    let auth = field("auth");
    if username.is_empty()
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(auth.as_bytes())
        && let Some((u, p)) = String::from_utf8_lossy(&decoded).split_once(':')
    {
        username = u.to_string();
        password = p.to_string();
    }
    AuthConfig {
        username,
        password,
        auth,
        server_address: server.to_string(),
        identity_token: field("identitytoken"),
        registry_token: field("registrytoken"),
    }
}

/// Returns the registry host of an image reference, Docker Hub as `docker.io`.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            normalize_server(first)
        }
        _ => "docker.io".to_string(),
    }
}

fn normalize_server(server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or(server);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(image: &str, policy: Option<&str>) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn default_policies() {
        assert_eq!(policy(&c("busybox", None)), "Always");
        assert_eq!(policy(&c("busybox:latest", None)), "Always");
        assert_eq!(
            policy(&c("127.0.0.1:5000/busybox:1.36", None)),
            "IfNotPresent"
        );
        assert_eq!(policy(&c("127.0.0.1:5000/busybox", None)), "Always");
        assert_eq!(policy(&c("busybox@sha256:abc", None)), "IfNotPresent");
        assert_eq!(policy(&c("busybox", Some("Never"))), "Never");
    }

    #[test]
    fn registries() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/x/y:1"), "127.0.0.1:5000");
        assert_eq!(normalize_server("https://index.docker.io/v1/"), "docker.io");
        let entry = serde_json::json!({"auth": "dTpw"});
        let auth = auth_config("r.example", &entry);
        assert_eq!((auth.username.as_str(), auth.password.as_str()), ("u", "p"));
    }
}
