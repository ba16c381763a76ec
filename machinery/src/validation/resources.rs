//! Container `resources`: resource names, quantity syntax, non-negative
//! values, and requests not above limits (`ValidateResourceRequirements`).

use serde_json::{Map, Value};

use super::FieldCause;
use super::field_error::invalid_string;
use super::names;
use crate::quantity::Quantity;

const STANDARD_CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

pub fn validate_resources(resources: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let limits = parsed_list(&resources["limits"], &format!("{path}.limits"), &mut causes);
    let requests = parsed_list(
        &resources["requests"],
        &format!("{path}.requests"),
        &mut causes,
    );
    for (name, request) in &requests {
        let Some((_, limit)) = limits.iter().find(|(limit_name, _)| limit_name == name) else {
            continue;
        };
        let overcommit_allowed = !name.starts_with("hugepages-") && !name.contains('/');
        if request != limit && !overcommit_allowed {
            causes.push(invalid_string(
                &format!("{path}.requests"),
                &request.to_string(),
                &format!("must be equal to {name} limit of {limit}"),
            ));
        } else if request > limit {
            causes.push(invalid_string(
                &format!("{path}.requests"),
                &request.to_string(),
                &format!("must be less than or equal to {name} limit of {limit}"),
            ));
        }
    }
    causes
}

/// Parses one resource list, reporting bad names and quantities, and
/// returns the valid entries.
fn parsed_list(list: &Value, path: &str, causes: &mut Vec<FieldCause>) -> Vec<(String, Quantity)> {
    let mut parsed = Vec::new();
    let empty = Map::new();
    for (name, value) in list.as_object().unwrap_or(&empty) {
        let entry_path = format!("{path}[{name}]");
        causes.extend(validate_resource_name(name, &entry_path));
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        };
        match Quantity::parse(&text) {
            Ok(quantity) if quantity.is_negative() => {
                causes.push(invalid_string(
                    &entry_path,
                    &quantity.to_string(),
                    "must be greater than or equal to 0",
                ));
            }
            Ok(quantity) => parsed.push((name.clone(), quantity)),
            Err(error) => causes.push(invalid_string(&entry_path, &text, &error.to_string())),
        }
    }
    parsed
}

/// Accepts `cpu`, `memory`, `ephemeral-storage`, `hugepages-<size>` and
/// domain-qualified extended resources (`example.com/gpu`).
fn validate_resource_name(name: &str, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for message in names::qualified_name(name) {
        causes.push(invalid_string(path, name, &message));
    }
    if !causes.is_empty() {
        return causes;
    }
    let standard = STANDARD_CONTAINER_RESOURCES.contains(&name) || name.starts_with("hugepages-");
    let extended = name.contains('/')
        && !name.starts_with("kubernetes.io/")
        && !name.contains(".kubernetes.io/");
    if !standard && !extended {
        causes.push(invalid_string(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
    causes
}
