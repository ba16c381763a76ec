//! LIST with selectors, pagination and resourceVersion semantics.

use axum::response::Response;
use serde_json::Value;
use skiff_store::{RangeOptions, Revision};

use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::object;
use crate::output;
use crate::registry::Resource;

/// One page of a list.
pub struct Page {
    pub items: Vec<Value>,
    pub revision: Revision,
    pub continue_token: Option<String>,
}

pub async fn list(ctx: &Ctx) -> ApiResult<Response> {
    let filter = Filter::from_params(&ctx.params, ctx.resource)?;
    let page = read_page(ctx, &filter).await?;
    Ok(output::list(
        ctx.resource,
        &page.items,
        &page.revision.to_string(),
        page.continue_token.as_deref(),
        ctx.format(),
    ))
}

/// Reads the objects a list request selects, from the watch cache for
/// `resourceVersion=0` and from the store otherwise.
pub async fn read_page(ctx: &Ctx, filter: &Filter) -> ApiResult<Page> {
    let prefix = ctx.resource.prefix(ctx.namespace());
    let limit = ctx.params.limit;
    if let Some(token) = &ctx.params.continue_token {
        let (revision, start_after) = decode_continue(token)?;
        return read_store(
            ctx,
            &prefix,
            Some(revision),
            Some(start_after),
            limit,
            filter,
        )
        .await;
    }
    let requested = match ctx.params.resource_version.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<Revision>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {text:?}: expected a number"
            ))
        })?),
    };
    let exact = ctx.params.resource_version_match.as_deref() == Some("Exact");
    match requested {
        Some(0) if !exact => Ok(read_cache(ctx, &prefix, filter)),
        Some(revision) if exact => {
            read_store(ctx, &prefix, Some(revision), None, limit, filter).await
        }
        _ => read_store(ctx, &prefix, None, None, limit, filter).await,
    }
}

fn read_cache(ctx: &Ctx, prefix: &str, filter: &Filter) -> Page {
    let snapshot = ctx.state.cache(ctx.resource).snapshot(prefix);
    let items = snapshot
        .objects
        .iter()
        .map(|value| typed(ctx.resource, Value::clone(value)))
        .filter(|value| filter.matches(value))
        .collect();
    Page {
        items,
        revision: snapshot.revision,
        continue_token: None,
    }
}

/// Keys read from the store at a time when a list has a limit: enough that
/// a selective filter needs few round trips, few enough that a small page
/// does not read the whole prefix.
const CHUNK: usize = 500;

async fn read_store(
    ctx: &Ctx,
    prefix: &str,
    revision: Option<Revision>,
    start_after: Option<String>,
    limit: Option<usize>,
    filter: &Filter,
) -> ApiResult<Page> {
    let mut revision = revision;
    let mut cursor = start_after;
    let mut items = Vec::new();
    let mut continue_token = None;
    let mut last_key = String::new();
    // Without a limit, one read returns everything. With a limit, the store
    // is read in chunks at the revision of the first chunk, until the page
    // has one match more than it returns or the prefix ends. So `continue`
    // is set only when more objects match.
    let chunk = limit.map(|limit| limit.saturating_add(1).max(CHUNK));
    'chunks: loop {
        let result = ctx
            .state
            .store
            .range(
                prefix,
                RangeOptions {
                    revision,
                    start_after: cursor.take(),
                    limit: chunk,
                },
            )
            .await
            .map_err(|error| match error {
                skiff_store::StoreError::Compacted { .. }
                    if ctx.params.continue_token.is_some() =>
                {
                    ApiError::gone(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    )
                }
                other => ApiError::from(other),
            })?;
        revision = Some(result.revision);
        for kv in &result.kvs {
            let Ok(stored) = object::decode(kv) else {
                tracing::warn!(key = %kv.key, "skipping a stored value that is not valid JSON");
                continue;
            };
            let value = typed(ctx.resource, stored);
            if !filter.matches(&value) {
                continue;
            }
            if limit.is_some_and(|limit| items.len() >= limit) {
                continue_token = Some(encode_continue(result.revision, &last_key));
                break 'chunks;
            }
            last_key.clone_from(&kv.key);
            items.push(value);
        }
        match result.kvs.last() {
            Some(last) if result.more => cursor = Some(last.key.clone()),
            _ => break,
        }
    }
    Ok(Page {
        items,
        revision: revision.unwrap_or_default(),
        continue_token,
    })
}

fn typed(resource: &Resource, value: Value) -> Value {
    let mut value = crate::convert::from_storage(resource, value);
    object::set_type_meta(&mut value, resource);
    value
}

/// Encodes the revision and last key of a page as an opaque hex token.
fn encode_continue(revision: Revision, last_key: &str) -> String {
    format!("{revision}:{last_key}")
        .bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> ApiResult<(Revision, String)> {
    let invalid = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (revision, key) = text.split_once(':').ok_or_else(invalid)?;
    let revision = revision.parse().map_err(|_| invalid())?;
    Ok((revision, key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_token_round_trips() {
        let token = encode_continue(42, "/registry/pods/default/web-1");
        let (revision, key) = decode_continue(&token).expect("token decodes");
        assert_eq!(revision, 42);
        assert_eq!(key, "/registry/pods/default/web-1");
    }

    #[test]
    fn garbage_continue_token_is_rejected() {
        assert!(decode_continue("xyz").is_err());
        assert!(decode_continue("4142").is_err());
    }
}
