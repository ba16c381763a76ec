//! The HTTP side of a SPDY/3.1 session: checking the upgrade request,
//! negotiating `X-Stream-Protocol-Version` the way the kubelet does, and
//! replying 101 Switching Protocols.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// The header carrying the sub-protocols a client offers and the one chosen.
pub const PROTOCOL_HEADER: &str = "X-Stream-Protocol-Version";
/// The header listing the server's protocols when negotiation fails.
const ACCEPTED_HEADER: &str = "X-Accepted-Stream-Protocol-Versions";

/// The upgraded connection that a SPDY session runs on.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// An accepted upgrade: the protocol chosen and the pending connection.
pub struct Accepted {
    pub protocol: &'static str,
    pub upgrade: OnUpgrade,
}

/// Returns whether the headers request a SPDY/3.1 upgrade.
pub fn is_spdy(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let connection = headers
        .get(header::CONNECTION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    upgrade.eq_ignore_ascii_case(skiff_spdy::UPGRADE)
        && connection
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Reasons an upgrade request is rejected, worded as the kubelet words them.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(
        "unable to upgrade: missing upgrade headers in request: expected Connection: Upgrade and Upgrade: SPDY/3.1"
    )]
    NotSpdy,
    #[error("unable to upgrade: {PROTOCOL_HEADER} is required")]
    MissingProtocol,
    #[error(
        "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server accepts {supported:?}"
    )]
    NoCommonProtocol {
        offered: Vec<String>,
        supported: Vec<&'static str>,
    },
    #[error("the connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for UpgradeError {
    fn into_response(self) -> Response {
        let status = match self {
            UpgradeError::NotSpdy | UpgradeError::MissingProtocol => StatusCode::BAD_REQUEST,
            UpgradeError::NoCommonProtocol { .. } => StatusCode::FORBIDDEN,
            UpgradeError::NotUpgradable => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = (status, self.to_string()).into_response();
        if let UpgradeError::NoCommonProtocol { supported, .. } = &self {
            for name in supported {
                response
                    .headers_mut()
                    .append(ACCEPTED_HEADER, HeaderValue::from_static(name));
            }
        }
        response
    }
}

/// Checks the upgrade headers and picks the first protocol the client
/// offers that is in `supported`.
pub fn accept(request: &mut Request, supported: &[&'static str]) -> Result<Accepted, UpgradeError> {
    if !is_spdy(request.headers()) {
        return Err(UpgradeError::NotSpdy);
    }
    let offered = offered_protocols(request.headers());
    if offered.is_empty() {
        return Err(UpgradeError::MissingProtocol);
    }
    let Some(protocol) = negotiate(&offered, supported) else {
        return Err(UpgradeError::NoCommonProtocol {
            offered,
            supported: supported.to_vec(),
        });
    };
    let upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(UpgradeError::NotUpgradable)?;
    Ok(Accepted { protocol, upgrade })
}

/// Builds the 101 reply that switches the connection to SPDY/3.1.
pub fn switching_protocols(protocol: &'static str) -> Response {
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        header::UPGRADE,
        HeaderValue::from_static(skiff_spdy::UPGRADE),
    );
    headers.insert(PROTOCOL_HEADER, HeaderValue::from_static(protocol));
    response
}

/// Waits for the client to switch protocols after the 101 reply.
pub async fn upgraded(upgrade: OnUpgrade) -> Option<Upgraded> {
    match upgrade.await {
        Ok(upgraded) => Some(TokioIo::new(upgraded)),
        Err(error) => {
            tracing::warn!(%error, "SPDY upgrade failed");
            None
        }
    }
}

/// Returns the first of the `offered` protocols that is `supported`.
fn negotiate(offered: &[String], supported: &[&'static str]) -> Option<&'static str> {
    offered
        .iter()
        .find_map(|name| supported.iter().find(|known| *known == name).copied())
}

/// Lists every offered protocol, whether sent as repeated headers or comma-separated.
fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(PROTOCOL_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(protocols: &[&str]) -> Request {
        let mut builder = Request::builder()
            .method("POST")
            .uri("/exec/token")
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "SPDY/3.1");
        for name in protocols {
            builder = builder.header(PROTOCOL_HEADER, *name);
        }
        builder.body(axum::body::Body::empty()).expect("request")
    }

    #[test]
    fn negotiation_takes_client_order() {
        let supported = ["v4.channel.k8s.io", "v3.channel.k8s.io"];
        let request = request(&["v5.channel.k8s.io", "v3.channel.k8s.io, v4.channel.k8s.io"]);
        let offered = offered_protocols(request.headers());
        assert_eq!(offered.len(), 3);
        assert_eq!(negotiate(&offered, &supported), Some("v3.channel.k8s.io"));
    }

    #[test]
    fn unknown_protocol_is_forbidden() {
        let mut request = request(&["v9.channel.k8s.io"]);
        let response = accept(&mut request, &["v4.channel.k8s.io"])
            .err()
            .expect("rejected")
            .into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response
                .headers()
                .get(ACCEPTED_HEADER)
                .map(|value| value.as_bytes()),
            Some(&b"v4.channel.k8s.io"[..])
        );
    }

    #[test]
    fn missing_protocol_is_bad_request() {
        let mut request = request(&[]);
        let response = accept(&mut request, &["v4.channel.k8s.io"])
            .err()
            .expect("rejected")
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn websocket_request_is_not_spdy() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(!is_spdy(&headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("spdy/3.1"));
        assert!(is_spdy(&headers));
    }
}
