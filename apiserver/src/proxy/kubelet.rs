//! HTTP client for kubelet log requests.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::{ApiError, ApiResult};

/// A pooled plain-HTTP client to kubelets.
#[derive(Clone)]
pub struct KubeletClient {
    client: Client<HttpConnector, Body>,
}

impl Default for KubeletClient {
    fn default() -> Self {
        Self::new()
    }
}

impl KubeletClient {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// Streams a kubelet's `/containerLogs/...` reply back as text/plain.
    pub async fn logs(&self, address: &str, path_and_query: &str) -> ApiResult<Response> {
        let uri = format!("http://{address}{path_and_query}");
        let request = Request::get(&uri)
            .body(Body::empty())
            .map_err(|error| ApiError::internal(format!("invalid kubelet URL {uri}: {error}")))?;
        let upstream = self.client.request(request).await.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "ServiceUnavailable",
                format!("failed to reach the kubelet at {address}: {error}"),
            )
        })?;
        let status = upstream.status();
        let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
        let mut response = (status, Body::new(upstream.into_body())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            content_type.unwrap_or_else(|| HeaderValue::from_static("text/plain")),
        );
        Ok(response)
    }
}
