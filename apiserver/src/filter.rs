//! The label and field selectors of list and watch requests.

use serde_json::Value;
use skiff_machinery::selector::{FieldSelector, LabelSelector};

use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::params::Params;

/// Parsed selectors of one request.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    pub fn from_params(params: &Params) -> ApiResult<Self> {
        let labels = match params.label_selector.as_deref() {
            None | Some("") => None,
            Some(text) => Some(LabelSelector::parse(text).map_err(|error| {
                ApiError::bad_request(format!("invalid labelSelector {text:?}: {error}"))
            })?),
        };
        let fields = match params.field_selector.as_deref() {
            None | Some("") => None,
            Some(text) => Some(FieldSelector::parse(text).map_err(|error| {
                ApiError::bad_request(format!("invalid fieldSelector {text:?}: {error}"))
            })?),
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
