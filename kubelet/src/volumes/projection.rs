//! The files of configMap, secret, downwardAPI and projected volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIVolumeFile, KeyToPath, Pod, SecretProjection, Volume,
};

use super::VolumeError;
use super::atomic::File;
use crate::pods::env::{self, Runtime, Sources};
use crate::pods::resources;

const DEFAULT_MODE: i32 = 0o644;

/// The files a projection-type volume should hold, or None when `volume` is
/// not one.
pub async fn files(
    sources: &mut Sources<'_>,
    pod: &Pod,
    volume: &Volume,
    rt: &Runtime<'_>,
) -> Result<Option<BTreeMap<String, File>>, VolumeError> {
    let mut out = BTreeMap::new();
    if let Some(cm) = &volume.config_map {
        let mode = cm.default_mode.unwrap_or(DEFAULT_MODE);
        let projection = ConfigMapProjection {
            items: cm.items.clone(),
            name: cm.name.clone(),
            optional: cm.optional,
        };
        config_map(sources, &projection, mode, &mut out).await?;
    } else if let Some(s) = &volume.secret {
        let mode = s.default_mode.unwrap_or(DEFAULT_MODE);
        let projection = SecretProjection {
            items: s.items.clone(),
            name: s.secret_name.clone().unwrap_or_default(),
            optional: s.optional,
        };
        secret(sources, &projection, mode, &mut out).await?;
    } else if let Some(d) = &volume.downward_api {
        let mode = d.default_mode.unwrap_or(DEFAULT_MODE);
        downward(pod, d.items.iter().flatten(), mode, rt, &mut out)?;
    } else if let Some(p) = &volume.projected {
        let mode = p.default_mode.unwrap_or(DEFAULT_MODE);
        for source in p.sources.iter().flatten() {
            if let Some(cm) = &source.config_map {
                config_map(sources, cm, mode, &mut out).await?;
            }
            if let Some(s) = &source.secret {
                secret(sources, s, mode, &mut out).await?;
            }
            if let Some(d) = &source.downward_api {
                downward(pod, d.items.iter().flatten(), mode, rt, &mut out)?;
            }
            if let Some(token) = &source.service_account_token {
                // Token issuance is not available; an empty token keeps the
                // layout that clients expect.
                out.entry(token.path.clone()).or_insert(File {
                    content: Vec::new(),
                    mode: mode as u32,
                });
            }
            if let Some(bundle) = &source.cluster_trust_bundle {
                out.entry(bundle.path.clone()).or_insert(File {
                    content: Vec::new(),
                    mode: mode as u32,
                });
            }
        }
    } else {
        return Ok(None);
    }
    Ok(Some(out))
}

async fn config_map(
    sources: &mut Sources<'_>,
    projection: &ConfigMapProjection,
    mode: i32,
    out: &mut BTreeMap<String, File>,
) -> Result<(), VolumeError> {
    let name = &projection.name;
    let data = sources.config_map(name).await?.clone();
    let optional = projection.optional == Some(true);
    match data {
        Some(data) => place(
            &data,
            projection.items.as_deref(),
            mode,
            optional,
            "configmap references non-existent config key",
            out,
        ),
        None if optional => Ok(()),
        None => Err(VolumeError::Source(format!(
            "configmap \"{name}\" not found"
        ))),
    }
}

async fn secret(
    sources: &mut Sources<'_>,
    projection: &SecretProjection,
    mode: i32,
    out: &mut BTreeMap<String, File>,
) -> Result<(), VolumeError> {
    let name = &projection.name;
    let data = sources.secret(name).await?.clone();
    let optional = projection.optional == Some(true);
    match data {
        Some(data) => place(
            &data,
            projection.items.as_deref(),
            mode,
            optional,
            "secret references non-existent secret key",
            out,
        ),
        None if optional => Ok(()),
        None => Err(VolumeError::Source(format!("secret \"{name}\" not found"))),
    }
}

/// Every key as a file, or only `items` under their paths.
fn place(
    data: &BTreeMap<String, String>,
    items: Option<&[KeyToPath]>,
    mode: i32,
    optional: bool,
    what: &str,
    out: &mut BTreeMap<String, File>,
) -> Result<(), VolumeError> {
    let Some(items) = items.filter(|i| !i.is_empty()) else {
        for (key, value) in data {
            out.insert(
                key.clone(),
                File {
                    content: value.clone().into_bytes(),
                    mode: mode as u32,
                },
            );
        }
        return Ok(());
    };
    for item in items {
        match data.get(&item.key) {
            Some(value) => {
                let mode = item.mode.unwrap_or(mode) as u32;
                out.insert(
                    item.path.clone(),
                    File {
                        content: value.clone().into_bytes(),
                        mode,
                    },
                );
            }
            None if optional => {}
            None => {
                return Err(VolumeError::Source(format!("{what}: {}", item.key)));
            }
        }
    }
    Ok(())
}

fn downward<'a>(
    pod: &Pod,
    items: impl Iterator<Item = &'a DownwardAPIVolumeFile>,
    mode: i32,
    rt: &Runtime<'_>,
    out: &mut BTreeMap<String, File>,
) -> Result<(), VolumeError> {
    for item in items {
        let value = if let Some(field) = &item.field_ref {
            env::field_value(pod, &field.field_path, rt)?
        } else if let Some(res) = &item.resource_field_ref {
            let spec = pod.spec.as_ref();
            let container = spec.and_then(|s| {
                s.containers
                    .iter()
                    .find(|c| Some(c.name.as_str()) == res.container_name.as_deref())
            });
            container
                .and_then(|c| {
                    resources::field_value(c, &res.resource, res.divisor.as_ref(), rt.allocatable)
                })
                .ok_or_else(|| {
                    VolumeError::Source(format!("unsupported resourceFieldRef {}", res.resource))
                })?
        } else {
            continue;
        };
        let mode = item.mode.unwrap_or(mode) as u32;
        out.insert(
            item.path.clone(),
            File {
                content: value.into_bytes(),
                mode,
            },
        );
    }
    Ok(())
}
