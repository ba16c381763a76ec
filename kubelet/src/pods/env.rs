//! The environment of a container: env and envFrom with their ConfigMap,
//! Secret, field and resource sources, then `$(VAR)` expansion.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::Api;

use super::expand::expand;
use super::resources;

/// Why an environment could not be built; the message is what Kubernetes
/// shows under CreateContainerConfigError.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("{kind} \"{name}\" not found")]
    NotFound { kind: &'static str, name: String },
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey {
        key: String,
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("cannot read {kind} \"{name}\": {source}")]
    Api {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("unsupported fieldRef {0}")]
    FieldRef(String),
    #[error("unsupported resourceFieldRef {0}")]
    ResourceRef(String),
}

/// Key-value data of a ConfigMap or Secret, or None when it does not exist.
type Data = Option<BTreeMap<String, String>>;

/// Fetches ConfigMaps and Secrets once per environment build.
pub struct Sources<'a> {
    client: &'a kube::Client,
    namespace: String,
    config_maps: HashMap<String, Data>,
    secrets: HashMap<String, Data>,
}

impl<'a> Sources<'a> {
    pub fn new(client: &'a kube::Client, namespace: &str) -> Sources<'a> {
        Sources {
            client,
            namespace: namespace.to_string(),
            config_maps: HashMap::new(),
            secrets: HashMap::new(),
        }
    }

    /// The ConfigMap's data (binaryData included, as lossy UTF-8).
    pub async fn config_map(&mut self, name: &str) -> Result<&Data, EnvError> {
        if !self.config_maps.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
            let data = api.get_opt(name).await.map_err(|source| EnvError::Api {
                kind: "configmap",
                name: name.to_string(),
                source,
            })?;
            let data = data.map(|cm| {
                let mut out = cm.data.unwrap_or_default();
                for (k, v) in cm.binary_data.unwrap_or_default() {
                    out.insert(k, String::from_utf8_lossy(&v.0).into_owned());
                }
                out
            });
            self.config_maps.insert(name.to_string(), data);
        }
        Ok(&self.config_maps[name])
    }

    /// The Secret's data (stringData is folded in by the API).
    pub async fn secret(&mut self, name: &str) -> Result<&Data, EnvError> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
            let data = api.get_opt(name).await.map_err(|source| EnvError::Api {
                kind: "secret",
                name: name.to_string(),
                source,
            })?;
            let data = data.map(|s| {
                let mut out: BTreeMap<String, String> = s
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                    .collect();
                out.extend(s.string_data.unwrap_or_default());
                out
            });
            self.secrets.insert(name.to_string(), data);
        }
        Ok(&self.secrets[name])
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// What the fieldRef and resourceFieldRef sources read besides the pod.
pub struct Runtime<'a> {
    pub pod_ip: Option<&'a str>,
    pub host_ip: &'a str,
    pub node_name: &'a str,
    pub allocatable: &'a BTreeMap<String, Quantity>,
}

/// Builds the environment of `container`, in order: envFrom, then env, each
/// value expanded against what came before.
pub async fn build(
    sources: &mut Sources<'_>,
    pod: &Pod,
    container: &Container,
    rt: &Runtime<'_>,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut env: Vec<(String, String)> = Vec::new();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (data, optional, kind, name) = if let Some(cm) = &from.config_map_ref {
            (
                sources.config_map(&cm.name).await?.clone(),
                cm.optional,
                "configmap",
                cm.name.clone(),
            )
        } else if let Some(s) = &from.secret_ref {
            (
                sources.secret(&s.name).await?.clone(),
                s.optional,
                "secret",
                s.name.clone(),
            )
        } else {
            continue;
        };
        match data {
            Some(data) => {
                for (k, v) in data {
                    set(&mut env, format!("{prefix}{k}"), v);
                }
            }
            None if optional == Some(true) => {}
            None => return Err(EnvError::NotFound { kind, name }),
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = value_of(sources, pod, container, var, rt, &env).await? {
            set(&mut env, var.name.clone(), value);
        }
    }
    Ok(env)
}

/// Expands `$(VAR)` in command or args with the built environment.
pub fn expand_all(items: &[String], env: &[(String, String)]) -> Vec<String> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    items.iter().map(|item| expand(item, &lookup)).collect()
}

fn set(env: &mut Vec<(String, String)>, name: String, value: String) {
    match env.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => env.push((name, value)),
    }
}

async fn value_of(
    sources: &mut Sources<'_>,
    pod: &Pod,
    container: &Container,
    var: &EnvVar,
    rt: &Runtime<'_>,
    env: &[(String, String)],
) -> Result<Option<String>, EnvError> {
    let Some(from) = &var.value_from else {
        let lookup = |name: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        return Ok(Some(expand(var.value.as_deref().unwrap_or(""), &lookup)));
    };
    if let Some(sel) = &from.config_map_key_ref {
        let namespace = sources.namespace().to_string();
        return match sources.config_map(&sel.name).await? {
            Some(data) => match data.get(&sel.key) {
                Some(v) => Ok(Some(v.clone())),
                None if sel.optional == Some(true) => Ok(None),
                None => Err(EnvError::MissingKey {
                    key: sel.key.clone(),
                    kind: "ConfigMap",
                    namespace,
                    name: sel.name.clone(),
                }),
            },
            None if sel.optional == Some(true) => Ok(None),
            None => Err(EnvError::NotFound {
                kind: "configmap",
                name: sel.name.clone(),
            }),
        };
    }
    if let Some(sel) = &from.secret_key_ref {
        let namespace = sources.namespace().to_string();
        return match sources.secret(&sel.name).await? {
            Some(data) => match data.get(&sel.key) {
                Some(v) => Ok(Some(v.clone())),
                None if sel.optional == Some(true) => Ok(None),
                None => Err(EnvError::MissingKey {
                    key: sel.key.clone(),
                    kind: "Secret",
                    namespace,
                    name: sel.name.clone(),
                }),
            },
            None if sel.optional == Some(true) => Ok(None),
            None => Err(EnvError::NotFound {
                kind: "secret",
                name: sel.name.clone(),
            }),
        };
    }
    if let Some(field) = &from.field_ref {
        return field_value(pod, &field.field_path, rt).map(Some);
    }
    if let Some(res) = &from.resource_field_ref {
        let target = match res.container_name.as_deref() {
            Some(name) if !name.is_empty() => pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.iter().find(|c| c.name == name))
                .unwrap_or(container),
            _ => container,
        };
        return resources::field_value(target, &res.resource, res.divisor.as_ref(), rt.allocatable)
            .map(Some)
            .ok_or_else(|| EnvError::ResourceRef(res.resource.clone()));
    }
    Ok(None)
}

/// Returns the value of a downward API field path.
pub fn field_value(pod: &Pod, path: &str, rt: &Runtime<'_>) -> Result<String, EnvError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| -> Option<String> {
        let key = path
            .strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| rt.node_name.to_string()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => rt.pod_ip.unwrap_or_default().to_string(),
        "status.hostIP" | "status.hostIPs" => rt.host_ip.to_string(),
        other => keyed("metadata.labels", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations", meta.annotations.as_ref()))
            .ok_or_else(|| EnvError::FieldRef(other.to_string()))?,
    };
    Ok(value)
}

/// Labels or annotations as the downward API writes them: `key="value"` lines.
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn downward_fields() {
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), "web".to_string());
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("ns".into()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        };
        let alloc = BTreeMap::new();
        let rt = Runtime {
            pod_ip: Some("10.0.0.2"),
            host_ip: "192.0.2.1",
            node_name: "n1",
            allocatable: &alloc,
        };
        assert_eq!(field_value(&pod, "metadata.name", &rt).unwrap(), "p");
        assert_eq!(
            field_value(&pod, "metadata.labels['app']", &rt).unwrap(),
            "web"
        );
        assert_eq!(
            field_value(&pod, "metadata.labels", &rt).unwrap(),
            "app=\"web\""
        );
        assert_eq!(field_value(&pod, "status.podIP", &rt).unwrap(), "10.0.0.2");
        assert_eq!(field_value(&pod, "spec.nodeName", &rt).unwrap(), "n1");
        assert!(field_value(&pod, "spec.bogus", &rt).is_err());
    }

    #[test]
    fn expands_command_with_env() {
        let env = vec![("A".to_string(), "1".to_string())];
        assert_eq!(
            expand_all(&["echo $(A) $(B)".to_string()], &env),
            vec!["echo 1 $(B)"]
        );
    }
}
