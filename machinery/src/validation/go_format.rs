//! Go `%#v` renderings of the structured values Kubernetes puts into some
//! `Invalid value:` messages (label selectors, int-or-string fields).

use serde_json::Value;

use super::field_error::{go_string, go_string_map};
use super::meta::string_map;

/// Renders an int-or-string field as `intstr.IntOrString{...}`.
pub fn int_or_string(value: &Value) -> String {
    match value {
        Value::String(text) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_string(text)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    }
}

/// Renders a `metav1.LabelSelector` as `v1.LabelSelector{...}`.
pub fn label_selector(selector: &Value) -> String {
    let match_labels = if selector["matchLabels"].is_object() {
        go_string_map(&string_map(&selector["matchLabels"]))
    } else {
        "map[string]string(nil)".to_string()
    };
    let match_expressions = match selector["matchExpressions"].as_array() {
        Some(expressions) => {
            let rendered: Vec<String> = expressions.iter().map(requirement).collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", rendered.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!("v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{match_expressions}}}")
}

fn requirement(expression: &Value) -> String {
    let values = match expression["values"].as_array() {
        Some(values) => {
            let quoted: Vec<String> = values
                .iter()
                .map(|value| go_string(value.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        None => "[]string(nil)".to_string(),
    };
    format!(
        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
        go_string(expression["key"].as_str().unwrap_or("")),
        go_string(expression["operator"].as_str().unwrap_or("")),
    )
}
