//! Strategic merge patch as the Kubernetes apiserver applies it: maps merge
//! recursively, lists merge by their declared merge key or as sets of
//! scalars or are replaced, and the `$patch`, `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`
//! directives steer the merge.

use serde_json::{Map, Value};

use super::PatchError;
use super::schema::{Field, SmpList, Ty};

const PATCH_DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies the strategic merge patch `patch` to `original`, whose root type
/// is `ty`.
pub fn strategic_merge(original: &Value, patch: &Value, ty: Ty) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::InvalidBody(
            "a strategic merge patch must be a JSON object".to_string(),
        ));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let merged = merge_map(original, patch, ty)?.unwrap_or_default();
    Ok(Value::Object(merged))
}

/// Merges `patch` into `original`. Returns `None` when the patch deletes
/// the whole map with `$patch: delete`.
fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    ty: Ty,
) -> Result<Option<Map<String, Value>>, PatchError> {
    if let Some(directive) = patch.get(PATCH_DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => {
                let mut replacement = patch.clone();
                replacement.remove(PATCH_DIRECTIVE);
                return merge_map(Map::new(), &replacement, ty);
            }
            Some("delete") => return Ok(None),
            Some("merge") => {}
            _ => {
                return Err(PatchError::InvalidBody(format!(
                    "unknown patch type {directive} in {PATCH_DIRECTIVE}; use replace, delete or merge"
                )));
            }
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        retain_keys(&mut original, patch, retain)?;
    }
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(&mut original, list, value)?;
        }
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            original.remove(key);
            continue;
        }
        let field = ty.field(key);
        let order = element_order(patch, key)?;
        match merge_value(original.get(key), value, field, order)? {
            Some(merged) => original.insert(key.clone(), merged),
            None => original.remove(key),
        };
    }
    apply_orders_without_list(&mut original, patch, ty)?;
    Ok(Some(original))
}

/// Merges one patch value into the live value of a field. `None` removes
/// the field.
fn merge_value(
    live: Option<&Value>,
    patch: &Value,
    field: Field,
    order: Option<&Vec<Value>>,
) -> Result<Option<Value>, PatchError> {
    match (live, patch) {
        (Some(Value::Object(live)), Value::Object(patch)) => {
            Ok(merge_map(live.clone(), patch, field.ty)?.map(Value::Object))
        }
        (None, Value::Object(patch)) => {
            Ok(merge_map(Map::new(), patch, field.ty)?.map(Value::Object))
        }
        (live, Value::Array(items)) => {
            let smp = field.list.map(|meta| meta.smp).unwrap_or(SmpList::Replace);
            let live_items = match live {
                Some(Value::Array(live_items)) => live_items.clone(),
                _ => Vec::new(),
            };
            if smp == SmpList::Replace {
                return Ok(Some(strip_directives(patch)));
            }
            let merged = merge_list(live_items, items, smp, field.ty, order)?;
            Ok(Some(Value::Array(merged)))
        }
        (_, patch) => Ok(Some(strip_directives(patch))),
    }
}

/// Merges a list whose strategy is `smp` (never `Replace`), then orders it:
/// items named by the patch (or by `order`, from `$setElementOrder`) in
/// that order, and the items only the live list has at their live positions.
fn merge_list(
    live: Vec<Value>,
    patch: &[Value],
    smp: SmpList,
    item_ty: Ty,
    order: Option<&Vec<Value>>,
) -> Result<Vec<Value>, PatchError> {
    let merged = match smp {
        SmpList::MergeByKey(key) => match merge_keyed_items(live.clone(), patch, key, item_ty)? {
            KeyedMerge::Replaced(items) => return Ok(items),
            KeyedMerge::Merged(items) => items,
        },
        SmpList::MergePrimitives => merge_primitives(&live, patch),
        SmpList::Replace => return Ok(strip_list(patch)),
    };
    let key = match smp {
        SmpList::MergeByKey(key) => Some(key),
        _ => None,
    };
    let default_order: Vec<Value> = patch
        .iter()
        .filter(|item| !is_special(item))
        .cloned()
        .collect();
    let order = order.unwrap_or(&default_order);
    Ok(order_items(merged, order, &live, key))
}

enum KeyedMerge {
    /// A `{"$patch": "replace"}` item made the patch's items the whole list.
    Replaced(Vec<Value>),
    Merged(Vec<Value>),
}

fn is_special(item: &Value) -> bool {
    item.get(PATCH_DIRECTIVE).is_some()
}

fn merge_keyed_items(
    mut live: Vec<Value>,
    patch: &[Value],
    key: &str,
    item_ty: Ty,
) -> Result<KeyedMerge, PatchError> {
    let mut replace = false;
    for item in patch.iter().filter(|item| is_special(item)) {
        match item.get(PATCH_DIRECTIVE).and_then(Value::as_str) {
            Some("replace") => replace = true,
            Some("delete") => {
                let Some(key_value) = item.get(key) else {
                    return Err(PatchError::InvalidBody(format!(
                        "the $patch: delete item {item} does not contain the merge key {key:?}"
                    )));
                };
                live.retain(|existing| existing.get(key) != Some(key_value));
            }
            Some("merge") => {
                return Err(PatchError::InvalidBody(
                    "$patch: merge is not supported inside a list".to_string(),
                ));
            }
            _ => {
                return Err(PatchError::InvalidBody(format!(
                    "unknown patch type in list item {item}; use replace or delete"
                )));
            }
        }
    }
    let regular = patch.iter().filter(|item| !is_special(item));
    if replace {
        let items = regular.map(strip_directives).collect();
        return Ok(KeyedMerge::Replaced(items));
    }
    for item in regular {
        let Value::Object(item_map) = item else {
            return Err(PatchError::InvalidBody(format!(
                "list item {item} must be an object with the merge key {key:?}"
            )));
        };
        let Some(key_value) = item_map.get(key) else {
            return Err(PatchError::InvalidBody(format!(
                "list item {item} does not contain the merge key {key:?}"
            )));
        };
        let position = live
            .iter()
            .position(|existing| existing.get(key) == Some(key_value));
        match position {
            Some(index) => {
                let existing = match &live[index] {
                    Value::Object(map) => map.clone(),
                    _ => Map::new(),
                };
                match merge_map(existing, item_map, item_ty)? {
                    Some(merged) => live[index] = Value::Object(merged),
                    None => {
                        live.remove(index);
                    }
                }
            }
            None => {
                if let Some(merged) = merge_map(Map::new(), item_map, item_ty)? {
                    live.push(Value::Object(merged));
                }
            }
        }
    }
    Ok(KeyedMerge::Merged(live))
}

fn merge_primitives(live: &[Value], patch: &[Value]) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::with_capacity(live.len() + patch.len());
    for item in live.iter().chain(patch) {
        if !merged.contains(item) {
            merged.push(item.clone());
        }
    }
    merged
}

/// Returns the identity of a list item for ordering: its merge key value, or the
/// item itself for scalar lists.
fn identity<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

fn index_in(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let key_value = identity(item, key)?;
    list.iter()
        .position(|candidate| identity(candidate, key) == Some(key_value))
}

/// Orders `merged` the way the apiserver does: the items named in `order`
/// sorted by it, interleaved with the remaining items, which keep their
/// relative positions from `live`.
fn order_items(
    merged: Vec<Value>,
    order: &[Value],
    live: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut ordered, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| index_in(order, item, key).is_some());
    ordered.sort_by_key(|item| index_in(order, item, key));
    let mut result = Vec::with_capacity(ordered.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = ordered.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
            (Some(l), Some(r)) => match (index_in(live, l, key), index_in(live, r, key)) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        result.extend(next);
    }
    result
}

fn element_order<'a>(
    patch: &'a Map<String, Value>,
    list: &str,
) -> Result<Option<&'a Vec<Value>>, PatchError> {
    match patch.get(&format!("{SET_ELEMENT_ORDER}{list}")) {
        None => Ok(None),
        Some(Value::Array(order)) => Ok(Some(order)),
        Some(other) => Err(PatchError::InvalidBody(format!(
            "{SET_ELEMENT_ORDER}{list} must be a list, got {other}"
        ))),
    }
}

/// Applies `$setElementOrder/<list>` directives whose list the patch does
/// not change, which only reorder the live list.
fn apply_orders_without_list(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    ty: Ty,
) -> Result<(), PatchError> {
    for key in patch.keys() {
        let Some(list) = key.strip_prefix(SET_ELEMENT_ORDER) else {
            continue;
        };
        if patch.contains_key(list) {
            continue;
        }
        let Some(order) = element_order(patch, list)? else {
            continue;
        };
        let smp = ty.field(list).list.map(|meta| meta.smp);
        let key = match smp {
            Some(SmpList::MergeByKey(key)) => Some(key),
            Some(SmpList::MergePrimitives) => None,
            _ => continue,
        };
        if let Some(Value::Array(live)) = original.get(list) {
            let live = live.clone();
            let ordered = order_items(live.clone(), order, &live, key);
            original.insert(list.to_string(), Value::Array(ordered));
        }
    }
    Ok(())
}

fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retain: &Value,
) -> Result<(), PatchError> {
    let invalid =
        || PatchError::InvalidBody(format!("{RETAIN_KEYS} must be a list of field names"));
    let Value::Array(names) = retain else {
        return Err(invalid());
    };
    let mut kept = Vec::with_capacity(names.len());
    for name in names {
        kept.push(name.as_str().ok_or_else(invalid)?);
    }
    for (key, value) in patch {
        if !key.starts_with('$') && !value.is_null() && !kept.contains(&key.as_str()) {
            return Err(PatchError::Failed(format!(
                "the patch sets {key:?}, which is not listed in {RETAIN_KEYS} {retain}"
            )));
        }
    }
    original.retain(|key, _| kept.contains(&key.as_str()));
    Ok(())
}

fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    list: &str,
    values: &Value,
) -> Result<(), PatchError> {
    let Value::Array(values) = values else {
        return Err(PatchError::InvalidBody(format!(
            "{DELETE_FROM_PRIMITIVE_LIST}{list} must be a list of values"
        )));
    };
    if let Some(Value::Array(live)) = original.get_mut(list) {
        live.retain(|item| !values.contains(item));
    }
    Ok(())
}

/// Returns a patch value as it would be stored when nothing is live to
/// merge with: directive keys and null map values dropped, `$patch: delete`
/// maps removed. Kubernetes gets the same effect by decoding into typed
/// objects, which ignore the `$`-prefixed keys; no served field name starts
/// with `$`.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let stripped = map
                .iter()
                .filter(|(key, value)| !key.starts_with('$') && !value.is_null())
                .map(|(key, value)| (key.clone(), strip_directives(value)))
                .collect();
            Value::Object(stripped)
        }
        Value::Array(items) => Value::Array(strip_list(items)),
        other => other.clone(),
    }
}

fn strip_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|item| !is_special(item))
        .map(strip_directives)
        .collect()
}
