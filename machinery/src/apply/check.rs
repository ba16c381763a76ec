//! Checks of an apply configuration's lists: every associative list item
//! names all its key fields, and no key or set value appears twice, as
//! server-side apply needs to identify each item.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fieldpath::{FieldPath, PathElement, item_key};
use super::walk::list_type;
use crate::patch::schema::{Field, SsaList, Ty};

/// Key fields Kubernetes fills in with a default, so an item may omit them.
const DEFAULTED_KEYS: &[&str] = &["protocol"];

/// Returns a message naming the first list item that cannot be identified.
pub fn check_lists(applied: &Value, root: Ty) -> Result<(), String> {
    let Value::Object(fields) = applied else {
        return Ok(());
    };
    for (name, value) in fields {
        let path = FieldPath(vec![PathElement::Field(name.clone())]);
        check_value(value, root.field(name), &path)?;
    }
    Ok(())
}

fn check_value(value: &Value, field: Field, path: &FieldPath) -> Result<(), String> {
    match value {
        Value::Object(fields) if field.ty != Ty::AtomicStruct => {
            for (name, child) in fields {
                let child_path = path.child(PathElement::Field(name.clone()));
                check_value(child, field.ty.field(name), &child_path)?;
            }
            Ok(())
        }
        Value::Array(items) => match list_type(field) {
            SsaList::Atomic => Ok(()),
            SsaList::Set => check_set(items, path),
            SsaList::Map(keys) => check_map(items, keys, field.ty, path),
        },
        _ => Ok(()),
    }
}

fn check_set(items: &[Value], path: &FieldPath) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for item in items {
        if !seen.insert(item.to_string()) {
            return Err(format!("{path}: duplicate entries for value {item}"));
        }
    }
    Ok(())
}

fn check_map(items: &[Value], keys: &[&str], item_ty: Ty, path: &FieldPath) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        let item_path = path.child(PathElement::Index(index));
        if !item.is_object() {
            return Err(format!(
                "{item_path}: an associative list item must be an object"
            ));
        }
        let missing = keys
            .iter()
            .find(|key| item.get(**key).is_none() && !DEFAULTED_KEYS.contains(key));
        if let Some(key) = missing {
            return Err(format!(
                "{item_path}: associative list with keys has an element that omits key field {key:?}"
            ));
        }
        let key = item_key(item, keys);
        if !seen.insert(key.clone()) {
            let element = FieldPath(vec![PathElement::Key(key)]);
            return Err(format!("{path}: duplicate entries for key {element}"));
        }
        let item_field = Field {
            ty: item_ty,
            list: None,
        };
        check_value(item, item_field, &item_path)?;
    }
    Ok(())
}
