//! Container defaults (`SetDefaults_Container` and the defaults of the
//! types a container holds: ports, probes, env sources).

use serde_json::{Map, Value, json};

use super::{for_each_in, set_default, set_default_string};

pub(super) fn default_container(container: &mut Map<String, Value>, host_network: bool) {
    if container
        .get("imagePullPolicy")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        let image = container.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(image).as_deref() == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        container.insert("imagePullPolicy".into(), json!(policy));
    }
    set_default_string(container, "terminationMessagePath", "/dev/termination-log");
    set_default_string(container, "terminationMessagePolicy", "File");
    set_default(container, "resources", json!({}));
    for_each_in(container, "ports", |port| {
        set_default_string(port, "protocol", "TCP");
        if host_network
            && port.get("hostPort").is_none_or(Value::is_null)
            && let Some(container_port) = port.get("containerPort").cloned()
        {
            port.insert("hostPort".into(), container_port);
        }
    });
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = container
        .get_mut("lifecycle")
        .and_then(Value::as_object_mut)
    {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = lifecycle.get_mut(hook).and_then(Value::as_object_mut) {
                default_http_get(handler);
            }
        }
    }
    for_each_in(container, "env", |variable| {
        let field_ref = variable
            .get_mut("valueFrom")
            .and_then(Value::as_object_mut)
            .and_then(|source| source.get_mut("fieldRef"))
            .and_then(Value::as_object_mut);
        if let Some(field_ref) = field_ref {
            set_default_string(field_ref, "apiVersion", "v1");
        }
    });
}

fn default_probe(probe: &mut Map<String, Value>) {
    // The probe fields are plain integers in Go, so 0 counts as unset.
    for (key, value) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if probe.get(key).and_then(Value::as_i64).unwrap_or(0) == 0 {
            probe.insert(key.into(), json!(value));
        }
    }
    default_http_get(probe);
}

fn default_http_get(handler: &mut Map<String, Value>) {
    if let Some(http_get) = handler.get_mut("httpGet").and_then(Value::as_object_mut) {
        set_default_string(http_get, "path", "/");
        set_default_string(http_get, "scheme", "HTTP");
    }
}

/// Returns the tag of an image reference as Kubernetes' `ParseImageName`
/// sees it: `latest` when neither a tag nor a digest is given, `None` for
/// a digest-only reference.
pub(super) fn image_tag(image: &str) -> Option<String> {
    let (name, has_digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_component = name.rsplit('/').next().unwrap_or(name);
    match last_component.split_once(':') {
        Some((_, tag)) => Some(tag.to_string()),
        None if has_digest => None,
        None => Some("latest".to_string()),
    }
}
