//! Field selector queries (`metadata.name=x,status.phase!=Running`), parsed
//! as Kubernetes' `fields.ParseSelector` does and checked against the field
//! labels each kind supports.

use std::fmt;

use serde_json::Value;

use super::SelectorError;
use crate::Gvk;

/// How a field requirement compares a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    DoubleEquals,
    NotEquals,
}

/// One `field=value` or `field!=value` term, with the value unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A parsed `fieldSelector`. The default selector matches every object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

const METADATA_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];

const EVENT_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const NODE_FIELDS: &[&str] = &["metadata.name", "spec.unschedulable"];
const NAMESPACE_FIELDS: &[&str] = &["metadata.name", "status.phase"];
const SECRET_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "type"];

/// Returns the field labels Kubernetes accepts in a field selector for
/// `gvk`. Kinds without their own list accept `metadata.name` and
/// `metadata.namespace`, and so does events.k8s.io/v1 Event, for which
/// Kubernetes 1.33 registers no extra labels.
pub fn supported_field_labels(gvk: &Gvk) -> &'static [&'static str] {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => POD_FIELDS,
        ("", "Event") => EVENT_FIELDS,
        ("", "Node") => NODE_FIELDS,
        ("", "Namespace") => NAMESPACE_FIELDS,
        ("", "Secret") => SECRET_FIELDS,
        _ => METADATA_FIELDS,
    }
}

/// Returns whether any kind supports `field` in a field selector.
fn is_known_field_label(field: &str) -> bool {
    [
        POD_FIELDS,
        EVENT_FIELDS,
        NODE_FIELDS,
        NAMESPACE_FIELDS,
        SECRET_FIELDS,
    ]
    .iter()
    .any(|fields| fields.contains(&field))
}

impl FieldSelector {
    /// Parses a selector and rejects fields that no kind supports (`field
    /// label not supported: foo`). Use [`FieldSelector::parse_for_kind`] to
    /// also reject fields the listed kind lacks, as Kubernetes does.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let parsed = Self::parse_syntax(selector)?;
        if let Some(unknown) = parsed
            .requirements
            .iter()
            .find(|requirement| !is_known_field_label(&requirement.field))
        {
            return Err(SelectorError(format!(
                "field label not supported: {}",
                unknown.field
            )));
        }
        Ok(parsed)
    }

    /// Parses the selector syntax without checking the field labels.
    pub fn parse_syntax(selector: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(selector);
        terms.sort();
        let mut requirements = Vec::new();
        for term in terms.iter().filter(|term| !term.is_empty()) {
            let Some((field, operator, raw_value)) = split_term(term) else {
                return Err(SelectorError(format!(
                    "invalid selector: '{selector}'; can't understand '{term}'"
                )));
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value: unescape_value(raw_value)?,
            });
        }
        Ok(Self { requirements })
    }

    /// Parses the selector and rejects fields `gvk` does not support with
    /// Kubernetes' message (`field label not supported: foo`).
    pub fn parse_for_kind(gvk: &Gvk, selector: &str) -> Result<Self, SelectorError> {
        let parsed = Self::parse_syntax(selector)?;
        parsed.check_fields(gvk)?;
        Ok(parsed)
    }

    /// Rejects the first field `gvk` does not support.
    pub fn check_fields(&self, gvk: &Gvk) -> Result<(), SelectorError> {
        let supported = supported_field_labels(gvk);
        for requirement in &self.requirements {
            if !supported.contains(&requirement.field.as_str()) {
                return Err(SelectorError(format!(
                    "field label not supported: {}",
                    requirement.field
                )));
            }
        }
        Ok(())
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Returns the value an `=` or `==` term requires for `field`, such as
    /// the node name a kubelet watches its pods by.
    pub fn exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|requirement| {
                requirement.field == field && requirement.operator != FieldOperator::NotEquals
            })
            .map(|requirement| requirement.value.as_str())
    }

    /// Returns whether `object` satisfies every requirement. Fields the
    /// object lacks compare as the empty string, and missing booleans as
    /// `false`, as the Kubernetes field sets hold them.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|requirement| {
            let actual = field_value(object, &requirement.field);
            match requirement.operator {
                FieldOperator::Equals | FieldOperator::DoubleEquals => actual == requirement.value,
                FieldOperator::NotEquals => actual != requirement.value,
            }
        })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .requirements
            .iter()
            .map(|requirement| {
                let operator = match requirement.operator {
                    FieldOperator::Equals => "=",
                    FieldOperator::DoubleEquals => "==",
                    FieldOperator::NotEquals => "!=",
                };
                format!(
                    "{}{operator}{}",
                    requirement.field,
                    escape_value(&requirement.value)
                )
            })
            .collect();
        f.write_str(&terms.join(","))
    }
}

/// Returns the string a field label has on `object`, as Kubernetes' per-kind
/// field sets define it.
pub fn field_value(object: &Value, field: &str) -> String {
    let events_v1 = object["apiVersion"].as_str() == Some("events.k8s.io/v1");
    let path = match field {
        "source" if events_v1 => "deprecatedSource.component".to_string(),
        "source" => "source.component".to_string(),
        "reportingComponent" if events_v1 => "reportingController".to_string(),
        "status.podIPs" => "status.podIP".to_string(),
        _ if events_v1 && field.starts_with("involvedObject.") => {
            field.replacen("involvedObject.", "regarding.", 1)
        }
        _ => field.to_string(),
    };
    let mut current = object;
    for segment in path.split('.') {
        current = &current[segment];
    }
    match current {
        Value::String(text) => text.clone(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Null if matches!(field, "spec.unschedulable" | "spec.hostNetwork") => {
            "false".to_string()
        }
        _ => String::new(),
    }
}

/// Splits on commas that a backslash does not escape.
fn split_terms(selector: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for character in selector.chars() {
        if escaped {
            current.push(character);
            escaped = false;
        } else if character == '\\' {
            current.push(character);
            escaped = true;
        } else if character == ',' {
            terms.push(std::mem::take(&mut current));
        } else {
            current.push(character);
        }
    }
    terms.push(current);
    terms
}

/// Splits at the first operator, trying `!=`, then `==`, then `=` at each
/// position as Kubernetes does.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (index, _) in term.char_indices() {
        let rest = &term[index..];
        for (text, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::DoubleEquals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(text) {
                return Some((&term[..index], operator, value));
            }
        }
    }
    None
}

/// Removes the escapes `\\`, `\,` and `\=`; an unescaped `,` or `=` or any
/// other escape is an error with Kubernetes' message.
fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut value = String::new();
    let mut escaped = false;
    for character in raw.chars() {
        if escaped {
            if !matches!(character, '\\' | ',' | '=') {
                return Err(SelectorError(format!(
                    "invalid field selector: invalid escape sequence: \\{character}"
                )));
            }
            value.push(character);
            escaped = false;
            continue;
        }
        match character {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(SelectorError(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(character)
                )));
            }
            _ => value.push(character),
        }
    }
    if escaped {
        return Err(SelectorError(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(value)
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}
