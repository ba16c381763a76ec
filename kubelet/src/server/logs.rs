//! `/containerLogs/NS/POD/CONTAINER`: a container's log file as plain
//! lines, with follow, tailLines, sinceSeconds, sinceTime, timestamps,
//! limitBytes and previous.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::crilog::{self, Options, Parser};
use super::query::Query;
use super::reply::{Body, error, full};
use crate::context::Context;
use crate::pods::{sandbox, snapshot::Snapshot};

const POLL: Duration = Duration::from_millis(250);

/// Serves a container log request.
pub async fn serve(
    ctx: &Context,
    ns: &str,
    pod_name: &str,
    container: &str,
    query: &Query,
) -> Response<Body> {
    let Some(pod) = ctx.pod(ns, pod_name) else {
        return error(404, "NotFound", &format!("pods \"{pod_name}\" not found"));
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let snapshot = match Snapshot::load(&ctx.runtime, &uid).await {
        Ok(s) => s,
        Err(e) => return error(500, "InternalError", &e.to_string()),
    };
    let previous = query.flag("previous");
    let chosen = if previous {
        snapshot.previous(container)
    } else {
        snapshot.latest(container)
    };
    let Some(chosen) = chosen else {
        let message = if previous {
            format!("previous terminated container \"{container}\" in pod \"{pod_name}\" not found")
        } else {
            format!(
                "container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"
            )
        };
        return error(400, "BadRequest", &message);
    };
    let mut path = PathBuf::from(&chosen.status.log_path);
    if path.is_relative() {
        path = sandbox::log_directory(ctx, &pod).join(path);
    }
    let options = options(query);
    let follow = query.flag("follow") && !previous;
    if !follow {
        let data = tokio::fs::read(&path).await.unwrap_or_default();
        let lines = Parser::default().feed(&data);
        return ok(full(crilog::render(&lines, &options)));
    }
    ok(follow_body(ctx, chosen.id.clone(), path, options))
}

fn ok(body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

fn options(query: &Query) -> Options {
    let since = query
        .number("sinceSeconds")
        .map(|s| Timestamp::now() - SignedDuration::from_secs(s))
        .or_else(|| query.get("sinceTime").and_then(|t| t.parse().ok()));
    Options {
        timestamps: query.flag("timestamps"),
        tail: query
            .number("tailLines")
            .and_then(|n| usize::try_from(n).ok()),
        since,
        limit_bytes: query
            .number("limitBytes")
            .and_then(|n| usize::try_from(n).ok()),
    }
}

/// Streams the existing tail, then new lines until the container stops.
fn follow_body(ctx: &Context, id: String, path: PathBuf, options: Options) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let runtime = ctx.runtime.clone();
    tokio::spawn(async move {
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return;
        };
        let mut data = Vec::new();
        if file.read_to_end(&mut data).await.is_err() {
            return;
        }
        let mut parser = Parser::default();
        let lines = parser.feed(&data);
        let first = crilog::render(
            &lines,
            &Options {
                limit_bytes: None,
                ..options.clone()
            },
        );
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        let mut offset = data.len() as u64;
        let mut stopped = false;
        loop {
            let mut chunk = Vec::new();
            let _ = file.seek(SeekFrom::Start(offset)).await;
            let _ = file.read_to_end(&mut chunk).await;
            offset += chunk.len() as u64;
            if chunk.is_empty() {
                if stopped || tx.is_closed() {
                    return;
                }
                if !running(&runtime, &id).await {
                    // One more read for what the container wrote last.
                    stopped = true;
                    continue;
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
            let mut out = Vec::new();
            for line in parser
                .feed(&chunk)
                .iter()
                .filter(|l| crilog::keep(l, &options))
            {
                crilog::write_line(&mut out, line, &options);
            }
            if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    BodyExt::boxed(StreamBody::new(stream))
}

async fn running(runtime: &crate::cri::Runtime, id: &str) -> bool {
    let mut rt = runtime.runtime.clone();
    let request = k8s_cri::v1::ContainerStatusRequest {
        container_id: id.to_string(),
        verbose: false,
    };
    match rt.container_status(request).await {
        Ok(r) => r
            .into_inner()
            .status
            .is_some_and(|s| s.state == k8s_cri::v1::ContainerState::ContainerRunning as i32),
        Err(_) => false,
    }
}
