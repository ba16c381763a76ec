//! Query parameters of API requests.

use axum::http::Uri;

use crate::error::{ApiError, ApiResult};

/// The query parameters the resource handlers read.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: Option<String>,
    pub force: bool,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: Option<bool>,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub include_object: Option<String>,
}

impl Params {
    pub fn parse(uri: &Uri) -> ApiResult<Self> {
        let pairs = pairs(uri);
        let mut params = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "dryRun" => {
                    if value != "All" {
                        return Err(ApiError::bad_request(format!(
                            "Invalid dryRun value {value:?}: the only supported value is \"All\""
                        )));
                    }
                    params.dry_run = true;
                }
                "fieldManager" => params.field_manager = Some(value),
                "fieldValidation" => params.field_validation = Some(value),
                "force" => params.force = parse_bool(&key, &value)?,
                "labelSelector" => params.label_selector = Some(value),
                "fieldSelector" => params.field_selector = Some(value),
                "limit" => params.limit = parse_number(&key, &value)?.filter(|n| *n > 0),
                "continue" => params.continue_token = Some(value).filter(|v| !v.is_empty()),
                "resourceVersion" => {
                    params.resource_version = Some(value).filter(|v| !v.is_empty());
                }
                "resourceVersionMatch" => {
                    params.resource_version_match = Some(value).filter(|v| !v.is_empty());
                }
                "watch" => params.watch = parse_bool(&key, &value)?,
                "allowWatchBookmarks" => params.allow_watch_bookmarks = parse_bool(&key, &value)?,
                "timeoutSeconds" => params.timeout_seconds = parse_number(&key, &value)?,
                "sendInitialEvents" => {
                    params.send_initial_events = Some(parse_bool(&key, &value)?);
                }
                "gracePeriodSeconds" => params.grace_period_seconds = parse_number(&key, &value)?,
                "propagationPolicy" => params.propagation_policy = Some(value),
                "includeObject" => params.include_object = Some(value),
                _ => {}
            }
        }
        Ok(params)
    }

    /// Returns the field manager, or Kubernetes' default derived from the
    /// user agent's first token.
    pub fn manager(&self, user_agent: Option<&str>) -> String {
        if let Some(manager) = &self.field_manager {
            return manager.clone();
        }
        user_agent
            .and_then(|agent| agent.split('/').next())
            .filter(|name| !name.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }

    pub fn strict_fields(&self) -> bool {
        self.field_validation.as_deref() == Some("Strict")
    }
}

/// Returns the decoded query pairs of `uri` in order.
pub fn pairs(uri: &Uri) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|query| query.0)
        .unwrap_or_default()
}

fn parse_bool(key: &str, value: &str) -> ApiResult<bool> {
    match value {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid value {value:?} for {key}: expected true or false"
        ))),
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str) -> ApiResult<Option<T>> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "invalid value {value:?} for {key}: expected a number"
        ))
    })
}
