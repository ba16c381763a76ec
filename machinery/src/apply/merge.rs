//! Merging an apply configuration into the live object: maps merge,
//! associative lists merge item by item on their keys, sets are unioned and
//! atomic values are replaced.

use serde_json::{Map, Value};

use super::fieldpath::item_key;
use super::walk::{Scope, in_scope, list_type};
use crate::patch::schema::{Field, SsaList, Ty};

/// Returns `live` with the in-scope fields of `applied` merged in.
pub fn merge_applied(live: &Value, applied: &Value, root: Ty, scope: Scope<'_>) -> Value {
    let mut result = match live {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    if let Value::Object(fields) = applied {
        for (name, value) in fields {
            if name == "apiVersion" || name == "kind" {
                result.insert(name.clone(), value.clone());
                continue;
            }
            if !in_scope(scope, name) {
                continue;
            }
            merge_field(&mut result, name, value, root.field(name));
        }
    }
    Value::Object(result)
}

fn merge_field(target: &mut Map<String, Value>, name: &str, applied: &Value, field: Field) {
    if applied.is_null() {
        target.remove(name);
        return;
    }
    let merged = match target.get(name) {
        Some(live) => merge_value(live, applied, field),
        None => merge_value(&Value::Null, applied, field),
    };
    target.insert(name.to_string(), merged);
}

fn merge_value(live: &Value, applied: &Value, field: Field) -> Value {
    match (live, applied) {
        (_, Value::Object(applied_fields)) if field.ty != Ty::AtomicStruct => {
            let mut result = match live {
                Value::Object(fields) => fields.clone(),
                _ => Map::new(),
            };
            for (name, value) in applied_fields {
                merge_field(&mut result, name, value, field.ty.field(name));
            }
            Value::Object(result)
        }
        (Value::Array(live_items), Value::Array(applied_items)) => match list_type(field) {
            SsaList::Atomic => applied.clone(),
            SsaList::Set => merge_set(live_items, applied_items),
            SsaList::Map(keys) => merge_associative(live_items, applied_items, keys, field.ty),
        },
        (_, Value::Array(applied_items)) => {
            let item_field = Field {
                ty: field.ty,
                list: None,
            };
            let items = applied_items
                .iter()
                .map(|item| merge_value(&Value::Null, item, item_field))
                .collect();
            Value::Array(items)
        }
        _ => applied.clone(),
    }
}

/// Merges the items of an associative list: applied items update the live
/// item with the same key or are added, in the order [`interleave`] gives.
fn merge_associative(live: &[Value], applied: &[Value], keys: &[&str], item_ty: Ty) -> Value {
    let item_field = Field {
        ty: item_ty,
        list: None,
    };
    let live_ids: Vec<String> = live.iter().map(|item| item_key(item, keys)).collect();
    let applied_ids: Vec<String> = applied.iter().map(|item| item_key(item, keys)).collect();
    let items = interleave(&live_ids, &applied_ids)
        .into_iter()
        .map(|source| match source {
            Source::Live(index) => live[index].clone(),
            Source::Applied(index) => merge_value(&Value::Null, &applied[index], item_field),
            Source::Both(live_index, applied_index) => {
                merge_value(&live[live_index], &applied[applied_index], item_field)
            }
        })
        .collect();
    Value::Array(items)
}

/// Unions a set list in the order [`interleave`] gives.
fn merge_set(live: &[Value], applied: &[Value]) -> Value {
    let live_ids: Vec<String> = live.iter().map(Value::to_string).collect();
    let applied_ids: Vec<String> = applied.iter().map(Value::to_string).collect();
    let items = interleave(&live_ids, &applied_ids)
        .into_iter()
        .map(|source| match source {
            Source::Live(index) | Source::Both(index, _) => live[index].clone(),
            Source::Applied(index) => applied[index].clone(),
        })
        .collect();
    Value::Array(items)
}

/// The origin of one item of a merged list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Live(usize),
    Applied(usize),
    Both(usize, usize),
}

/// Orders the union of two lists of item identities the way Kubernetes'
/// structured merge diff does. Items both lists share follow the applied
/// order, and applied-only items sit at their applied positions. Live-only
/// items keep their place relative to their live neighbours.
fn interleave(live: &[String], applied: &[String]) -> Vec<Source> {
    let live_index = |id: &String| live.iter().position(|candidate| candidate == id);
    let in_applied = |id: &String| applied.contains(id);
    let mut shared = applied.iter().filter(|id| live_index(id).is_some());
    let mut next_shared = shared.next();
    let mut merged: Vec<&String> = Vec::new();
    let mut out = Vec::with_capacity(live.len().max(applied.len()));
    let (mut l, mut r) = (0, 0);
    while l < live.len() || r < applied.len() {
        if l < live.len() && r < applied.len() {
            if live[l] == applied[r] {
                out.push(Source::Both(l, r));
                merged.push(&live[l]);
                l += 1;
                r += 1;
                next_shared = shared.next();
                continue;
            }
            if in_applied(&live[l]) && next_shared.is_some_and(|id| *id != live[l]) {
                l += 1;
                continue;
            }
        }
        if l < live.len() {
            if !in_applied(&live[l]) {
                out.push(Source::Live(l));
                l += 1;
                continue;
            }
            if merged.contains(&&live[l]) {
                l += 1;
                continue;
            }
        }
        if r < applied.len() {
            let id = &applied[r];
            merged.push(id);
            out.push(match live_index(id) {
                Some(index) => Source::Both(index, r),
                None => Source::Applied(r),
            });
            if next_shared == Some(id) {
                next_shared = shared.next();
            }
            r += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Source, interleave};

    fn ids(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn interleave_keeps_live_only_positions() {
        let order = interleave(&ids(&["a", "b", "c"]), &ids(&["a", "c"]));
        assert_eq!(
            order,
            [Source::Both(0, 0), Source::Live(1), Source::Both(2, 1)]
        );
    }

    #[test]
    fn interleave_places_new_items_at_applied_positions() {
        let order = interleave(&ids(&["a", "b"]), &ids(&["new", "a", "b"]));
        assert_eq!(
            order,
            [Source::Applied(0), Source::Both(0, 1), Source::Both(1, 2)]
        );
    }

    #[test]
    fn interleave_follows_applied_order_for_shared_items() {
        let order = interleave(&ids(&["a", "b", "x"]), &ids(&["b", "a"]));
        // The live-only "x" stays behind its live predecessor "b", which
        // the applied order moved to the front.
        assert_eq!(
            order,
            [Source::Both(1, 0), Source::Live(2), Source::Both(0, 1)]
        );
    }
}
