//! The node API: container logs, exec, attach and port-forward, which the
//! apiserver forwards kubectl's requests to.

pub mod crilog;
pub mod logs;
pub mod query;
pub mod reply;
pub mod stream;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use reply::{Body, error, text};

/// Serves the node API on `listener` until shutdown.
pub async fn serve(ctx: Arc<Context>, listener: TcpListener, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "node API accept failed");
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, std::convert::Infallible>(route(ctx, req).await) }
            });
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "node API connection ended");
            }
        });
    }
}

async fn route(ctx: Arc<Context>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    tracing::debug!(method = %req.method(), %path, "node API request");
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["healthz"]) => text(200, "ok"),
        (&Method::GET, ["containerLogs", ns, pod, container]) => {
            let query = query::Query::parse(req.uri().query());
            logs::serve(&ctx, ns, pod, container, &query).await
        }
        (_, ["exec", ns, pod, container]) => {
            stream::exec(&ctx, ns, pod, container, req, false).await
        }
        (_, ["attach", ns, pod, container]) => {
            stream::exec(&ctx, ns, pod, container, req, true).await
        }
        (_, ["portForward", ns, pod]) => stream::port_forward(&ctx, ns, pod, req).await,
        _ => error(404, "NotFound", &format!("the node API has no path {path}")),
    }
}
