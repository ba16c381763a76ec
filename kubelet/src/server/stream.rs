//! exec, attach and port-forward: ask the runtime for a streaming URL and
//! proxy the client's upgrade request to it, then splice both directions
//! byte for byte, whatever protocol (WebSocket or SPDY) was negotiated.

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::{AttachRequest, ExecRequest, PortForwardRequest};

use super::query::Query;
use super::reply::{Body, error, full};
use crate::context::Context;
use crate::pods::snapshot::Snapshot;

/// Proxies `/exec/...` or `/attach/...`.
pub async fn exec(
    ctx: &Context,
    ns: &str,
    pod_name: &str,
    container: &str,
    req: Request<Incoming>,
    attach: bool,
) -> Response<Body> {
    let query = Query::parse(req.uri().query());
    let (stdin, stdout, stderr, tty) = (
        query.flag("stdin"),
        query.flag("stdout"),
        query.flag("stderr"),
        query.flag("tty"),
    );
    if !(stdin || stdout || stderr) {
        return error(
            400,
            "BadRequest",
            "you must specify at least 1 of stdin, stdout, stderr",
        );
    }
    let Some(pod) = ctx.pod(ns, pod_name) else {
        return error(404, "NotFound", &format!("pods \"{pod_name}\" not found"));
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let snapshot = match Snapshot::load(&ctx.runtime, &uid).await {
        Ok(s) => s,
        Err(e) => return error(500, "InternalError", &e.to_string()),
    };
    let Some(target) = snapshot.latest(container).filter(|c| c.running()) else {
        return error(
            400,
            "BadRequest",
            &format!("container not found (\"{container}\")"),
        );
    };
    let mut rt = ctx.runtime.runtime.clone();
    let url = if attach {
        rt.attach(AttachRequest {
            container_id: target.id.clone(),
            stdin,
            tty,
            stdout,
            stderr,
        })
        .await
        .map(|r| r.into_inner().url)
    } else {
        let cmd = query.all("command");
        if cmd.is_empty() {
            return error(
                400,
                "BadRequest",
                "you must specify at least one command for the container",
            );
        }
        rt.exec(ExecRequest {
            container_id: target.id.clone(),
            cmd,
            tty,
            stdin,
            stdout,
            stderr,
        })
        .await
        .map(|r| r.into_inner().url)
    };
    match url {
        Ok(url) => proxy(req, &url).await,
        Err(status) => error(500, "InternalError", status.message()),
    }
}

/// Proxies `/portForward/...`.
pub async fn port_forward(
    ctx: &Context,
    ns: &str,
    pod_name: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let Some(pod) = ctx.pod(ns, pod_name) else {
        return error(404, "NotFound", &format!("pods \"{pod_name}\" not found"));
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let snapshot = match Snapshot::load(&ctx.runtime, &uid).await {
        Ok(s) => s,
        Err(e) => return error(500, "InternalError", &e.to_string()),
    };
    let Some(sandbox) = snapshot.ready_sandbox() else {
        return error(
            400,
            "BadRequest",
            &format!("pod \"{pod_name}\" has no running sandbox"),
        );
    };
    let query = Query::parse(req.uri().query());
    let port = query
        .all("port")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut rt = ctx.runtime.runtime.clone();
    match rt
        .port_forward(PortForwardRequest {
            pod_sandbox_id: sandbox.id.clone(),
            port,
        })
        .await
    {
        Ok(r) => proxy(req, &r.into_inner().url).await,
        Err(status) => error(500, "InternalError", status.message()),
    }
}

/// Sends `req` (its method, headers and query) to the streaming `url`. On
/// 101 the answer goes back to the client and the two upgraded connections
/// are spliced; any other answer is passed through.
async fn proxy(mut req: Request<Incoming>, url: &str) -> Response<Body> {
    let Ok(target) = url.parse::<http::Uri>() else {
        return error(
            500,
            "InternalError",
            &format!("the runtime returned an invalid streaming URL {url:?}"),
        );
    };
    let Some(authority) = target.authority().cloned() else {
        return error(
            500,
            "InternalError",
            &format!("the streaming URL {url:?} has no host"),
        );
    };
    let port = authority.port_u16().unwrap_or(80);
    let stream = match tokio::net::TcpStream::connect((authority.host(), port)).await {
        Ok(s) => s,
        Err(e) => {
            return error(
                502,
                "ServiceUnavailable",
                &format!("cannot reach the streaming server: {e}"),
            );
        }
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(e) => {
                return error(
                    502,
                    "ServiceUnavailable",
                    &format!("streaming server handshake failed: {e}"),
                );
            }
        };
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "streaming server connection ended");
        }
    });
    let path = match (target.path_and_query(), req.uri().query()) {
        (Some(pq), Some(q)) if pq.query().is_none() => format!("{}?{q}", pq.path()),
        (Some(pq), _) => pq.to_string(),
        (None, _) => "/".to_string(),
    };
    let mut upstream = Request::builder().method(req.method().clone()).uri(path);
    for (name, value) in req.headers() {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    upstream = upstream.header(http::header::HOST, authority.as_str());
    let Ok(upstream) = upstream.body(http_body_util::Empty::<bytes::Bytes>::new()) else {
        return error(500, "InternalError", "cannot build the streaming request");
    };
    let client_upgrade = hyper::upgrade::on(&mut req);
    let mut answer = match sender.send_request(upstream).await {
        Ok(r) => r,
        Err(e) => {
            return error(
                502,
                "ServiceUnavailable",
                &format!("streaming request failed: {e}"),
            );
        }
    };
    let status = answer.status();
    let mut response = Response::builder().status(status);
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    if status != http::StatusCode::SWITCHING_PROTOCOLS {
        use http_body_util::BodyExt;
        let body = answer
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return response
            .body(full(body))
            .unwrap_or_else(|_| error(502, "ServiceUnavailable", "bad answer"));
    }
    let server_upgrade = hyper::upgrade::on(&mut answer);
    tokio::spawn(async move {
        let (client, server) = match tokio::try_join!(client_upgrade, server_upgrade) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "stream upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut server = TokioIo::new(server);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
            tracing::debug!(error = %e, "stream ended");
        }
    });
    response
        .body(full(bytes::Bytes::new()))
        .unwrap_or_else(|_| error(502, "ServiceUnavailable", "bad answer"))
}
