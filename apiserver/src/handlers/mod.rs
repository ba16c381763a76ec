//! Request handlers of the resource API, dispatched from a parsed path.

pub(crate) mod create;
mod delete;
mod list;
mod read;
mod subresource;
mod update;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};
use crate::output::{self, Format};
use crate::params::Params;
use crate::registry::{Resource, Subresource};
use crate::route::{self, Target};
use crate::state::AppState;
use crate::{discovery, proxy, watch};

pub use create::{create_default_service_account, create_object};

/// Everything a resource handler needs about its request.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub resource: &'static Resource,
    pub namespace: Option<String>,
    pub params: Params,
    pub headers: HeaderMap,
}

impl Ctx {
    /// The field manager of a write.
    pub fn manager(&self) -> String {
        let agent = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        self.params.manager(agent)
    }

    pub fn format(&self) -> Format {
        output::negotiate(&self.headers, self.params.include_object.as_deref())
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

/// Serves every request under `/api` and `/apis`.
pub async fn api(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let (response, resource_name) = match route::parse(&path) {
        None => (ApiError::not_found_path().into_response(), String::new()),
        Some(target) => {
            let name = target_resource_name(&target);
            (dispatch(Arc::clone(&state), target, request).await, name)
        }
    };
    state.metrics.record(
        &method,
        &resource_name,
        response.status(),
        started.elapsed(),
    );
    response
}

fn target_resource_name(target: &Target) -> String {
    match target {
        Target::Collection { resource, .. } => resource.plural.to_string(),
        Target::Object {
            resource,
            subresource,
            ..
        } => match subresource {
            Some(sub) => format!("{}/{}", resource.plural, sub.name),
            None => resource.plural.to_string(),
        },
        _ => String::new(),
    }
}

async fn dispatch(state: Arc<AppState>, target: Target, request: Request) -> Response {
    let params = match Params::parse(request.uri()) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let method = request.method().clone();
    match target {
        Target::Root { legacy_core } => only_get(&method, request.headers(), |headers| {
            discovery::root(legacy_core, headers)
        }),
        Target::Group { group } => {
            only_get(&method, request.headers(), |_| discovery::group(&group))
        }
        Target::GroupVersion { group, version } => only_get(&method, request.headers(), |_| {
            discovery::group_version(&group, &version)
        }),
        Target::Collection {
            resource,
            namespace,
        } => {
            let (parts, body) = request.into_parts();
            let ctx = Ctx {
                state,
                resource,
                namespace,
                params,
                headers: parts.headers,
            };
            collection(ctx, &method, body)
                .await
                .unwrap_or_else(|e| e.into_response())
        }
        Target::Object {
            resource,
            namespace,
            name,
            subresource,
        } => {
            if let Some(sub) = subresource
                && matches!(sub.name, "log" | "exec" | "attach" | "portforward")
            {
                return proxy::serve(state, resource, namespace, name, sub.name, request)
                    .await
                    .unwrap_or_else(|e| e.into_response());
            }
            let (parts, body) = request.into_parts();
            let ctx = Ctx {
                state,
                resource,
                namespace,
                params,
                headers: parts.headers,
            };
            single(ctx, &method, &name, subresource, body)
                .await
                .unwrap_or_else(|e| e.into_response())
        }
    }
}

fn only_get(
    method: &Method,
    headers: &HeaderMap,
    serve: impl FnOnce(&HeaderMap) -> Response,
) -> Response {
    if method == Method::GET {
        serve(headers)
    } else {
        ApiError::method_not_allowed(method.as_str(), "discovery documents").into_response()
    }
}

async fn collection(ctx: Ctx, method: &Method, body: Body) -> ApiResult<Response> {
    match *method {
        Method::GET if ctx.params.watch => watch::stream::serve(ctx).await,
        Method::GET => list::list(&ctx).await,
        Method::POST => {
            if ctx.resource.namespaced && ctx.namespace.is_none() {
                return Err(ApiError::method_not_allowed(
                    "POST",
                    &format!("{} across all namespaces", ctx.resource.plural),
                ));
            }
            create::create(&ctx, body).await
        }
        Method::DELETE => delete::delete_collection(&ctx).await,
        _ => Err(ApiError::method_not_allowed(
            method.as_str(),
            &format!("a {} collection", ctx.resource.kind),
        )),
    }
}

async fn single(
    ctx: Ctx,
    method: &Method,
    name: &str,
    subresource: Option<&'static Subresource>,
    body: Body,
) -> ApiResult<Response> {
    let sub = subresource.map(|s| s.name);
    let not_allowed = || {
        ApiError::method_not_allowed(
            method.as_str(),
            &match sub {
                Some(sub) => format!("{}/{sub}", ctx.resource.plural),
                None => ctx.resource.plural.to_string(),
            },
        )
    };
    match (sub, method.clone()) {
        (None, Method::GET) => read::get(&ctx, name).await,
        (None, Method::PUT) => update::update(&ctx, name, body, update::Target::Main).await,
        (None, Method::PATCH) => update::patch(&ctx, name, body, update::Target::Main).await,
        (None, Method::DELETE) => delete::delete(&ctx, name, body).await,
        (Some("status"), Method::GET) => read::get(&ctx, name).await,
        (Some("status"), Method::PUT) => {
            update::update(&ctx, name, body, update::Target::Status).await
        }
        (Some("status"), Method::PATCH) => {
            update::patch(&ctx, name, body, update::Target::Status).await
        }
        (Some("scale"), Method::GET) => subresource::get_scale(&ctx, name).await,
        (Some("scale"), Method::PUT) => {
            update::update(&ctx, name, body, update::Target::Scale).await
        }
        (Some("scale"), Method::PATCH) => {
            update::patch(&ctx, name, body, update::Target::Scale).await
        }
        (Some("binding"), Method::POST) => subresource::bind(&ctx, name, body).await,
        (Some("finalize"), Method::PUT) => {
            update::update(&ctx, name, body, update::Target::Finalize).await
        }
        _ => Err(not_allowed()),
    }
}

/// Replies 201 Created or 200 OK with `value` in the requested format.
pub fn reply(ctx: &Ctx, code: StatusCode, value: &serde_json::Value) -> Response {
    output::object(ctx.resource, code, value, ctx.format())
}
