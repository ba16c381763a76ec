//! Container checks (`validateContainers`, `validateContainerPorts`,
//! `ValidateEnv`, volume mounts), for pods and pod templates.

use std::collections::BTreeSet;

use serde_json::Value;

use super::FieldCause;
use super::field_error::{duplicate, invalid, invalid_string, not_supported, required};
use super::meta::text;
use super::names;
use super::resources::validate_resources;

const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["FallbackToLogsOnError", "File"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Checks a `containers` or `initContainers` list. `seen_names` carries the
/// names of the lists checked before, as names are unique across both.
pub fn validate_containers(
    containers: &Value,
    volumes: &BTreeSet<String>,
    seen_names: &mut BTreeSet<String>,
    path: &str,
) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (index, container) in containers.as_array().into_iter().flatten().enumerate() {
        let container_path = format!("{path}[{index}]");
        let name = text(container, "name");
        if name.is_empty() {
            causes.push(required(&format!("{container_path}.name"), ""));
        } else {
            for message in names::dns1123_label(name) {
                causes.push(invalid_string(
                    &format!("{container_path}.name"),
                    name,
                    &message,
                ));
            }
            if !seen_names.insert(name.to_string()) {
                causes.push(duplicate(&format!("{container_path}.name"), name));
            }
        }
        causes.extend(validate_container(container, volumes, &container_path));
    }
    causes
}

fn validate_container(
    container: &Value,
    volumes: &BTreeSet<String>,
    path: &str,
) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if text(container, "image").trim().is_empty() {
        causes.push(required(&format!("{path}.image"), ""));
    }
    let pull_policy = text(container, "imagePullPolicy");
    if pull_policy.is_empty() {
        causes.push(required(&format!("{path}.imagePullPolicy"), ""));
    } else if !PULL_POLICIES.contains(&pull_policy) {
        causes.push(not_supported(
            &format!("{path}.imagePullPolicy"),
            pull_policy,
            PULL_POLICIES,
        ));
    }
    let message_policy = text(container, "terminationMessagePolicy");
    if message_policy.is_empty() {
        causes.push(required(&format!("{path}.terminationMessagePolicy"), ""));
    } else if !TERMINATION_MESSAGE_POLICIES.contains(&message_policy) {
        causes.push(not_supported(
            &format!("{path}.terminationMessagePolicy"),
            message_policy,
            TERMINATION_MESSAGE_POLICIES,
        ));
    }
    causes.extend(validate_ports(
        &container["ports"],
        &format!("{path}.ports"),
    ));
    causes.extend(validate_env(&container["env"], &format!("{path}.env")));
    causes.extend(validate_volume_mounts(
        &container["volumeMounts"],
        volumes,
        &format!("{path}.volumeMounts"),
    ));
    causes.extend(validate_resources(
        &container["resources"],
        &format!("{path}.resources"),
    ));
    causes
}

fn validate_ports(ports: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut port_names = BTreeSet::new();
    for (index, port) in ports.as_array().into_iter().flatten().enumerate() {
        let port_path = format!("{path}[{index}]");
        let name = text(port, "name");
        if !name.is_empty() {
            for message in port_name_errors(name) {
                causes.push(invalid_string(&format!("{port_path}.name"), name, &message));
            }
            if !port_names.insert(name.to_string()) {
                causes.push(duplicate(&format!("{port_path}.name"), name));
            }
        }
        let container_port = port["containerPort"].as_i64().unwrap_or(0);
        if container_port == 0 {
            causes.push(required(&format!("{port_path}.containerPort"), ""));
        } else if !(1..=65535).contains(&container_port) {
            causes.push(invalid(
                &format!("{port_path}.containerPort"),
                &container_port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let host_port = port["hostPort"].as_i64().unwrap_or(0);
        if host_port != 0 && !(1..=65535).contains(&host_port) {
            causes.push(invalid(
                &format!("{port_path}.hostPort"),
                &host_port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let protocol = text(port, "protocol");
        if protocol.is_empty() {
            causes.push(required(&format!("{port_path}.protocol"), ""));
        } else if !PROTOCOLS.contains(&protocol) {
            causes.push(not_supported(
                &format!("{port_path}.protocol"),
                protocol,
                PROTOCOLS,
            ));
        }
    }
    causes
}

/// Port name rules of `IsValidPortName`: at most 15 characters of
/// `[-a-z0-9]`, at least one letter, no leading, trailing or double dash.
fn port_name_errors(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.len() > 15 {
        errors.push(names::max_length_error(15));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        errors.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.bytes().any(|byte| byte.is_ascii_lowercase()) {
        errors.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errors.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_string());
    }
    errors
}

/// Checks env names with Kubernetes 1.33's relaxed rule (printable ASCII
/// other than `=`).
fn validate_env(env: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (index, variable) in env.as_array().into_iter().flatten().enumerate() {
        let name_path = format!("{path}[{index}].name");
        let name = text(variable, "name");
        if name.is_empty() {
            causes.push(required(&name_path, ""));
        } else if !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') || name.contains('=') {
            causes.push(invalid_string(
                &name_path,
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    causes
}

fn validate_volume_mounts(
    mounts: &Value,
    volumes: &BTreeSet<String>,
    path: &str,
) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut mount_paths = BTreeSet::new();
    for (index, mount) in mounts.as_array().into_iter().flatten().enumerate() {
        let mount_path = format!("{path}[{index}]");
        let name = text(mount, "name");
        if name.is_empty() {
            causes.push(required(&format!("{mount_path}.name"), ""));
        } else if !volumes.contains(name) {
            causes.push(FieldCause {
                reason: "FieldValueNotFound".to_string(),
                message: format!("Not found: {}", super::field_error::go_string(name)),
                field: format!("{mount_path}.name"),
            });
        }
        let target = text(mount, "mountPath");
        if target.is_empty() {
            causes.push(required(&format!("{mount_path}.mountPath"), ""));
        } else if !mount_paths.insert(target.to_string()) {
            causes.push(invalid_string(
                &format!("{mount_path}.mountPath"),
                target,
                "must be unique",
            ));
        }
    }
    causes
}
