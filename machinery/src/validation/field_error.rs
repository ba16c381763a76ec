//! Constructors for [`FieldCause`] with Kubernetes' `field.Error` wording:
//! the cause message is the error body (`Invalid value: "x": detail`), and
//! the field path is kept apart.

use std::collections::BTreeMap;

use super::FieldCause;

/// Quotes a string as Go's `%q` does.
pub fn go_string(value: &str) -> String {
    let mut quoted = String::from("\"");
    for character in value.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Formats a string map as Go's `%#v` prints a `map[string]string`.
pub fn go_string_map(map: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map
        .iter()
        .map(|(key, value)| format!("{}:{}", go_string(key), go_string(value)))
        .collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}

fn cause(reason: &str, field: &str, message: String) -> FieldCause {
    FieldCause {
        reason: reason.to_string(),
        message,
        field: field.to_string(),
    }
}

fn with_detail(body: &str, detail: &str) -> String {
    if detail.is_empty() {
        body.to_string()
    } else {
        format!("{body}: {detail}")
    }
}

/// `Required value`, optionally with a detail.
pub fn required(field: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueRequired",
        field,
        with_detail("Required value", detail),
    )
}

/// `Invalid value: <value>: <detail>`, where `value` is already formatted
/// (use [`go_string`] for strings and plain numbers for integers).
pub fn invalid(field: &str, value: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueInvalid",
        field,
        with_detail(&format!("Invalid value: {value}"), detail),
    )
}

/// `Invalid value` for a string value.
pub fn invalid_string(field: &str, value: &str, detail: &str) -> FieldCause {
    invalid(field, &go_string(value), detail)
}

/// `Unsupported value: "x": supported values: "a", "b"`.
pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> FieldCause {
    let quoted: Vec<String> = supported.iter().map(|value| go_string(value)).collect();
    cause(
        "FieldValueNotSupported",
        field,
        format!(
            "Unsupported value: {}: supported values: {}",
            go_string(value),
            quoted.join(", ")
        ),
    )
}

/// `Duplicate value: "x"`.
pub fn duplicate(field: &str, value: &str) -> FieldCause {
    cause(
        "FieldValueDuplicate",
        field,
        format!("Duplicate value: {}", go_string(value)),
    )
}

/// `Forbidden: <detail>`.
pub fn forbidden(field: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueForbidden",
        field,
        with_detail("Forbidden", detail),
    )
}

/// `Too long: may not be more than N bytes`.
pub fn too_long(field: &str, max_bytes: usize) -> FieldCause {
    cause(
        "FieldValueTooLong",
        field,
        format!("Too long: may not be more than {max_bytes} bytes"),
    )
}
