//! apps/v1 Deployment and ReplicaSet checks (`ValidateDeploymentSpec`,
//! `ValidateReplicaSetSpec`, `ValidateLabelSelector`).

use serde_json::Value;

use super::FieldCause;
use super::field_error::{
    forbidden, go_string_map, invalid, invalid_string, not_supported, required,
};
use super::go_format;
use super::meta::{string_map, text, validate_labels};
use super::names;
use super::pod::validate_pod_template;
use crate::selector::LabelSelector;

const STRATEGY_TYPES: &[&str] = &["Recreate", "RollingUpdate"];

pub fn validate_deployment_spec(spec: &Value) -> Vec<FieldCause> {
    let mut causes = validate_replicated_spec(spec);
    causes.extend(nonnegative(
        &spec["revisionHistoryLimit"],
        "spec.revisionHistoryLimit",
    ));
    causes.extend(validate_strategy(&spec["strategy"]));
    if let Some(deadline) = spec["progressDeadlineSeconds"].as_i64() {
        causes.extend(nonnegative(
            &spec["progressDeadlineSeconds"],
            "spec.progressDeadlineSeconds",
        ));
        let min_ready = spec["minReadySeconds"].as_i64().unwrap_or(0);
        if deadline >= 0 && deadline <= min_ready {
            causes.push(invalid(
                "spec.progressDeadlineSeconds",
                &deadline.to_string(),
                "must be greater than minReadySeconds",
            ));
        }
    }
    causes
}

pub fn validate_replica_set_spec(spec: &Value) -> Vec<FieldCause> {
    validate_replicated_spec(spec)
}

/// Checks what Deployments and ReplicaSets share: replicas, selector and
/// template. Kubernetes' message for an empty selector names "deployment"
/// for both kinds.
fn validate_replicated_spec(spec: &Value) -> Vec<FieldCause> {
    let mut causes = nonnegative(&spec["replicas"], "spec.replicas");
    causes.extend(nonnegative(
        &spec["minReadySeconds"],
        "spec.minReadySeconds",
    ));
    let selector = &spec["selector"];
    let mut parsed_selector = None;
    if !selector.is_object() {
        causes.push(required("spec.selector", ""));
    } else {
        let selector_causes = validate_label_selector(selector, "spec.selector");
        let is_empty = string_map(&selector["matchLabels"]).is_empty()
            && selector["matchExpressions"]
                .as_array()
                .is_none_or(Vec::is_empty);
        if is_empty {
            causes.push(invalid(
                "spec.selector",
                &go_format::label_selector(selector),
                "empty selector is invalid for deployment",
            ));
        }
        if selector_causes.is_empty() && !is_empty {
            parsed_selector = LabelSelector::from_label_selector_json(selector).ok();
        }
        causes.extend(selector_causes);
    }
    let template = &spec["template"];
    if !template.is_object() {
        causes.push(required("spec.template", ""));
        return causes;
    }
    let labels = string_map(&template["metadata"]["labels"]);
    if let Some(selector) = parsed_selector
        && !selector.matches(&labels)
    {
        causes.push(invalid(
            "spec.template.metadata.labels",
            &go_string_map(&labels),
            "`selector` does not match template `labels`",
        ));
    }
    causes.extend(validate_pod_template(template, "spec.template"));
    let restart_policy = text(&template["spec"], "restartPolicy");
    if !restart_policy.is_empty() && restart_policy != "Always" {
        causes.push(not_supported(
            "spec.template.spec.restartPolicy",
            restart_policy,
            &["Always"],
        ));
    }
    if template["spec"]["activeDeadlineSeconds"].is_i64() {
        causes.push(forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    causes
}

/// Checks a `metav1.LabelSelector`'s labels and expressions.
pub fn validate_label_selector(selector: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = validate_labels(&selector["matchLabels"], &format!("{path}.matchLabels"));
    for (index, expression) in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let expression_path = format!("{path}.matchExpressions[{index}]");
        let has_values = expression["values"]
            .as_array()
            .is_some_and(|values| !values.is_empty());
        let operator = text(expression, "operator");
        match operator {
            "In" | "NotIn" if !has_values => causes.push(required(
                &format!("{expression_path}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if has_values => causes.push(forbidden(
                &format!("{expression_path}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => causes.push(invalid_string(
                &format!("{expression_path}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = text(expression, "key");
        for message in names::qualified_name(key) {
            causes.push(invalid_string(
                &format!("{expression_path}.key"),
                key,
                &message,
            ));
        }
    }
    causes
}

fn validate_strategy(strategy: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let strategy_type = text(strategy, "type");
    let rolling = &strategy["rollingUpdate"];
    match strategy_type {
        "Recreate" => {
            if !rolling.is_null() {
                causes.push(forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            if rolling.is_object() {
                causes.extend(validate_rolling_update(
                    rolling,
                    "spec.strategy.rollingUpdate",
                ));
            } else {
                causes.push(required(
                    "spec.strategy.rollingUpdate",
                    "this should be defaulted and never be nil",
                ));
            }
        }
        "" => causes.push(required("spec.strategy.type", "")),
        other => causes.push(not_supported("spec.strategy.type", other, STRATEGY_TYPES)),
    }
    causes
}

fn validate_rolling_update(rolling: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let max_unavailable = &rolling["maxUnavailable"];
    let max_surge = &rolling["maxSurge"];
    causes.extend(positive_int_or_percent(
        max_unavailable,
        &format!("{path}.maxUnavailable"),
    ));
    causes.extend(positive_int_or_percent(
        max_surge,
        &format!("{path}.maxSurge"),
    ));
    if int_or_percent_value(max_unavailable) == Some(0)
        && int_or_percent_value(max_surge) == Some(0)
    {
        causes.push(invalid(
            &format!("{path}.maxUnavailable"),
            &go_format::int_or_string(max_unavailable),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    if let Some(percent) = max_unavailable.as_str().and_then(parse_percent)
        && percent > 100
    {
        causes.push(invalid(
            &format!("{path}.maxUnavailable"),
            &go_format::int_or_string(max_unavailable),
            "must not be greater than 100%",
        ));
    }
    causes
}

fn parse_percent(text: &str) -> Option<i64> {
    text.strip_suffix('%')?.parse().ok()
}

/// Returns the integer or percentage number of an int-or-string, zero when
/// unset, and `None` when malformed.
fn int_or_percent_value(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => parse_percent(text),
        Value::Null => Some(0),
        other => other.as_i64(),
    }
}

fn positive_int_or_percent(value: &Value, path: &str) -> Vec<FieldCause> {
    match value {
        Value::String(text) => {
            let valid = text.strip_suffix('%').is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
            });
            if valid {
                Vec::new()
            } else {
                vec![invalid(
                    path,
                    &go_format::int_or_string(value),
                    &names::regex_error(
                        "a valid percent string must be a numeric string followed by an ending '%'",
                        "[0-9]+%",
                        &["1%", "93%"],
                    ),
                )]
            }
        }
        Value::Number(_) => nonnegative(value, path),
        _ => Vec::new(),
    }
}

/// `must be greater than or equal to 0` for a negative integer field.
pub fn nonnegative(value: &Value, path: &str) -> Vec<FieldCause> {
    match value.as_i64() {
        Some(number) if number < 0 => vec![invalid(
            path,
            &number.to_string(),
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// Rejects a selector change on update; apps/v1 selectors are immutable.
pub fn validate_selector_update(new_spec: &Value, old_spec: &Value) -> Vec<FieldCause> {
    if new_spec["selector"] == old_spec["selector"] {
        return Vec::new();
    }
    vec![invalid(
        "spec.selector",
        &go_format::label_selector(&new_spec["selector"]),
        "field is immutable",
    )]
}
