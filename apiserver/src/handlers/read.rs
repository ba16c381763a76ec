//! GET of one object.

use axum::http::StatusCode;
use axum::response::Response;

use super::Ctx;
use crate::error::ApiResult;
use crate::storage;

pub async fn get(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let (value, _) = storage::get(&ctx.state, ctx.resource, ctx.namespace(), name).await?;
    Ok(super::reply(ctx, StatusCode::OK, &value))
}
