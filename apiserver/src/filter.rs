//! The label and field selectors of list and watch requests.

use serde_json::Value;
use skiff_machinery::selector::{FieldSelector, LabelSelector};

use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::params::Params;
use crate::registry::Resource;

/// Parsed selectors of one request.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Parses the selectors of a request for `resource`. A field the kind
    /// cannot be selected by gets Kubernetes' 400 message, which names the
    /// resource, both selectors and the field.
    pub fn from_params(params: &Params, resource: &Resource) -> ApiResult<Self> {
        let labels = match params.label_selector.as_deref() {
            None | Some("") => None,
            Some(text) => Some(LabelSelector::parse(text).map_err(|error| {
                ApiError::bad_request(format!("invalid labelSelector {text:?}: {error}"))
            })?),
        };
        let fields = match params.field_selector.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                FieldSelector::parse_for_kind(&resource.gvk(), text).map_err(|error| {
                    ApiError::bad_request(format!(
                        "Unable to find \"{}/{}, Resource={}\" that match label selector \"{}\", field selector \"{text}\": {error}",
                        resource.group,
                        resource.version,
                        resource.plural,
                        params.label_selector.as_deref().unwrap_or_default(),
                    ))
                })?,
            ),
        };
        Ok(Self { labels, fields })
    }

    pub fn matches(&self, value: &Value) -> bool {
        if let Some(labels) = &self.labels
            && !labels.matches(&object::labels(value))
        {
            return false;
        }
        if let Some(fields) = &self.fields
            && !fields.matches(value)
        {
            return false;
        }
        true
    }
}
