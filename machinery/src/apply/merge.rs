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
            SsaList::Set => {
                let mut items = live_items.clone();
                for item in applied_items {
                    if !items.contains(item) {
                        items.push(item.clone());
                    }
                }
                Value::Array(items)
            }
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
/// item with the same key or are appended.
fn merge_associative(live: &[Value], applied: &[Value], keys: &[&str], item_ty: Ty) -> Value {
    let mut items = live.to_vec();
    let item_field = Field {
        ty: item_ty,
        list: None,
    };
    for item in applied {
        let key = item_key(item, keys);
        match items
            .iter()
            .position(|existing| item_key(existing, keys) == key)
        {
            Some(index) => items[index] = merge_value(&items[index], item, item_field),
            None => items.push(merge_value(&Value::Null, item, item_field)),
        }
    }
    Value::Array(items)
}
