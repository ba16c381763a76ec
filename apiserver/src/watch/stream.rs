//! The HTTP side of a watch: newline-delimited JSON events in a chunked body.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use skiff_store::Revision;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::event::{self, EventType, ObjectEvent};
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::handlers::Ctx;
use crate::object;
use crate::output::{self, Format};

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// Watch length when the client sets no `timeoutSeconds` (Kubernetes picks a
/// random value between 30 and 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The origin of a watch's events.
enum Source {
    Cache {
        backlog: Vec<Arc<ObjectEvent>>,
        receiver: broadcast::Receiver<Arc<ObjectEvent>>,
    },
    Store(skiff_store::WatchStream),
}

struct Watcher {
    ctx: Ctx,
    filter: Filter,
    prefix: String,
    format: Format,
    sender: mpsc::Sender<Bytes>,
    /// The revision of the latest event delivered.
    revision: Revision,
    sent_columns: bool,
}

pub async fn serve(ctx: Ctx) -> ApiResult<Response> {
    let filter = Filter::from_params(&ctx.params, ctx.resource)?;
    let requested = match ctx.params.resource_version.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<Revision>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {text:?}: expected a number"
            ))
        })?),
    };
    let send_initial = ctx.params.send_initial_events;
    if send_initial == Some(true) {
        if ctx.params.resource_version_match.as_deref() != Some("NotOlderThan") {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !ctx.params.allow_watch_bookmarks {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    }
    let timeout = ctx
        .params
        .timeout_seconds
        .filter(|seconds| *seconds > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let prefix = ctx.resource.prefix(ctx.namespace());
    let format = match ctx.format() {
        Format::Table { include } => Format::Table { include },
        other => other,
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let mut watcher = Watcher {
        filter,
        prefix,
        format,
        sender,
        revision: 0,
        sent_columns: false,
        ctx,
    };
    // Kubernetes starts an unversioned (or version 0) watch with the current
    // objects as ADDED events unless sendInitialEvents=false.
    let initial = matches!(
        (requested, send_initial),
        (_, Some(true)) | (None | Some(0), None)
    );
    if initial {
        let cache = Arc::clone(watcher.ctx.state.cache(watcher.ctx.resource));
        if let Some(minimum) = requested {
            wait_for_revision(&cache, minimum).await;
        }
        let snapshot = cache.snapshot(&watcher.prefix);
        watcher.revision = snapshot.revision;
        let end_marker = send_initial == Some(true);
        tokio::spawn(async move {
            for stored in &snapshot.objects {
                let object = convert::external(watcher.ctx.resource, stored);
                if watcher.filter.matches(&object) && !watcher.send(EventType::Added, &object).await
                {
                    return;
                }
            }
            if end_marker && !watcher.bookmark(snapshot.revision, true).await {
                return;
            }
            let source = Source::Cache {
                backlog: Vec::new(),
                receiver: snapshot.receiver,
            };
            watcher.run(source, timeout).await;
        });
        return Ok(streaming_response(receiver));
    }
    let after = requested.unwrap_or_default();
    watcher.revision = after;
    let cache = watcher.ctx.state.cache(watcher.ctx.resource);
    let source = match cache.resume(after) {
        Some(resumed) => Source::Cache {
            backlog: resumed.backlog,
            receiver: resumed.receiver,
        },
        None => match watcher.ctx.state.store.watch(&watcher.prefix, after).await {
            Ok(stream) => Source::Store(stream),
            Err(error) => {
                let error = ApiError::from(error);
                tokio::spawn(async move {
                    watcher.send_error(&error).await;
                });
                return Ok(streaming_response(receiver));
            }
        },
    };
    tokio::spawn(async move { watcher.run(source, timeout).await });
    Ok(streaming_response(receiver))
}

/// Waits briefly for the cache to reach a revision a client has already seen.
async fn wait_for_revision(cache: &super::cache::WatchCache, minimum: Revision) {
    for _ in 0..50 {
        if cache.revision() >= minimum {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn streaming_response(receiver: mpsc::Receiver<Bytes>) -> Response {
    let stream = ReceiverStream::new(receiver).map(Ok::<_, std::convert::Infallible>);
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

impl Watcher {
    async fn run(mut self, source: Source, timeout: Duration) {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut bookmarks = tokio::time::interval(BOOKMARK_INTERVAL);
        bookmarks.reset();
        let shutdown = self.ctx.state.shutdown.clone();
        match source {
            Source::Cache {
                backlog,
                mut receiver,
            } => {
                for event in backlog {
                    if !self.deliver(&event).await {
                        return;
                    }
                }
                loop {
                    tokio::select! {
                        () = &mut deadline => return,
                        () = shutdown.cancelled() => return,
                        _ = bookmarks.tick() => {
                            let cache = Arc::clone(self.ctx.state.cache(self.ctx.resource));
                            let revision = cache.settled_revision(&receiver).unwrap_or(self.revision);
                            if self.ctx.params.allow_watch_bookmarks && !self.bookmark(revision.max(self.revision), false).await {
                                return;
                            }
                        }
                        received = receiver.recv() => match received {
                            Ok(event) => {
                                if !self.deliver(&event).await {
                                    return;
                                }
                            }
                            // A client too slow for the fan-out re-watches from its last event.
                            Err(_) => return,
                        }
                    }
                }
            }
            Source::Store(mut stream) => loop {
                tokio::select! {
                    () = &mut deadline => return,
                    () = shutdown.cancelled() => return,
                    _ = bookmarks.tick() => {
                        if self.ctx.params.allow_watch_bookmarks && !self.bookmark(self.revision, false).await {
                            return;
                        }
                    }
                    item = stream.next() => match item {
                        Some(Ok(store_event)) => {
                            if let Some(decoded) = event::decode(&store_event)
                                && !self.deliver(&decoded).await
                            {
                                return;
                            }
                        }
                        Some(Err(error)) => {
                            self.send_error(&ApiError::from(error)).await;
                            return;
                        }
                        None => return,
                    }
                }
            },
        }
    }

    /// Sends an event if it concerns this watch; returns false once the
    /// client is gone.
    async fn deliver(&mut self, event: &ObjectEvent) -> bool {
        if event.revision <= self.revision || !event.key.starts_with(&self.prefix) {
            return true;
        }
        self.revision = event.revision;
        let resource = self.ctx.resource;
        let object = convert::external(resource, &event.object);
        let now_matches = self.filter.matches(&object);
        let before_matched = event
            .prev
            .as_deref()
            .is_some_and(|prev| self.filter.matches(&convert::external(resource, prev)));
        let event_type = match (event.event_type, before_matched, now_matches) {
            (EventType::Deleted, _, true) => EventType::Deleted,
            (EventType::Deleted, _, false) => return true,
            (_, true, true) => EventType::Modified,
            (_, false, true) => EventType::Added,
            (_, true, false) => EventType::Deleted,
            (_, false, false) => return true,
        };
        self.send(event_type, &object).await
    }

    async fn send(&mut self, event_type: EventType, value: &Value) -> bool {
        let mut typed = value.clone();
        object::set_type_meta(&mut typed, self.ctx.resource);
        let encoded = match self.format {
            Format::Json => typed,
            Format::Metadata => output::partial_metadata(&typed),
            Format::Table { include } => {
                let revision = object::meta_str(&typed, "resourceVersion")
                    .unwrap_or("")
                    .to_string();
                let with_columns = !self.sent_columns;
                self.sent_columns = true;
                output::table(
                    self.ctx.resource,
                    std::slice::from_ref(&typed),
                    &revision,
                    None,
                    include,
                    with_columns,
                )
            }
        };
        self.write(&json!({ "type": event_type.as_str(), "object": encoded }))
            .await
    }

    async fn bookmark(&mut self, revision: Revision, initial_events_end: bool) -> bool {
        let mut metadata = json!({ "resourceVersion": revision.to_string() });
        if initial_events_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({
            "kind": self.ctx.resource.kind,
            "apiVersion": self.ctx.resource.api_version(),
            "metadata": metadata,
        });
        self.write(&json!({ "type": "BOOKMARK", "object": object }))
            .await
    }

    async fn send_error(&mut self, error: &ApiError) {
        let status = serde_json::to_value(error.to_status()).unwrap_or_default();
        self.write(&json!({ "type": "ERROR", "object": status }))
            .await;
    }

    async fn write(&self, line: &Value) -> bool {
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        self.sender.send(Bytes::from(bytes)).await.is_ok()
    }
}
