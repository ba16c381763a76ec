//! Walking an object along its schema: the owned paths it contains, the
//! value at a path, and removal of a path.

use serde_json::{Map, Value};

use super::fieldpath::{FieldPath, FieldSet, PathElement, item_key};
use crate::patch::schema::{Field, SsaList, Ty};

/// Metadata fields the apiserver sets itself, which no manager owns.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Which part of an object a write manages: the main resource (everything
/// but `status`) or a subresource. The `status` subresource manages only
/// `status`; others, such as `scale`, write the main resource's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    Main,
    Subresource(&'a str),
}

/// Returns whether the top-level field `name` belongs to `scope`.
pub fn in_scope(scope: Scope<'_>, name: &str) -> bool {
    match scope {
        Scope::Main => !matches!(name, "apiVersion" | "kind" | "status"),
        Scope::Subresource("status") => name == "status",
        Scope::Subresource(_) => in_scope(Scope::Main, name),
    }
}

/// Returns every owned path in `object` with its value: scalars, atomic
/// lists and structs, empty maps and set items are leaves, and associative
/// list items are paths of their own besides their fields.
pub fn owned_paths(object: &Value, root: Ty, scope: Scope<'_>) -> Vec<(FieldPath, Value)> {
    let mut paths = Vec::new();
    let Value::Object(fields) = object else {
        return paths;
    };
    for (name, value) in fields {
        if !in_scope(scope, name) {
            continue;
        }
        let path = FieldPath(vec![PathElement::Field(name.clone())]);
        if name == "metadata" {
            collect_metadata(value, &path, &mut paths);
        } else {
            collect(value, root.field(name), &path, &mut paths);
        }
    }
    paths
}

/// Returns the owned paths of `object` as a set.
pub fn field_set(object: &Value, root: Ty, scope: Scope<'_>) -> FieldSet {
    FieldSet(
        owned_paths(object, root, scope)
            .into_iter()
            .map(|(path, _)| path)
            .collect(),
    )
}

fn collect_metadata(metadata: &Value, path: &FieldPath, paths: &mut Vec<(FieldPath, Value)>) {
    let Value::Object(fields) = metadata else {
        return;
    };
    for (name, value) in fields {
        if SERVER_METADATA.contains(&name.as_str()) {
            continue;
        }
        let child = path.child(PathElement::Field(name.clone()));
        collect(value, Ty::ObjectMeta.field(name), &child, paths);
    }
}

fn collect(value: &Value, field: Field, path: &FieldPath, paths: &mut Vec<(FieldPath, Value)>) {
    match value {
        Value::Null => {}
        Value::Object(fields) if !fields.is_empty() && field.ty != Ty::AtomicStruct => {
            for (name, child) in fields {
                let child_path = path.child(PathElement::Field(name.clone()));
                collect(child, field.ty.field(name), &child_path, paths);
            }
        }
        Value::Array(items) => match list_type(field) {
            SsaList::Atomic => paths.push((path.clone(), value.clone())),
            SsaList::Set => {
                for item in items {
                    let element = PathElement::Value(item.to_string());
                    paths.push((path.child(element), item.clone()));
                }
            }
            SsaList::Map(keys) => {
                for item in items {
                    let item_path = path.child(PathElement::Key(item_key(item, keys)));
                    paths.push((item_path.clone(), Value::Null));
                    let item_field = Field {
                        ty: field.ty,
                        list: None,
                    };
                    collect(item, item_field, &item_path, paths);
                }
            }
        },
        _ => paths.push((path.clone(), value.clone())),
    }
}

/// Returns the list type server-side apply uses for `field`. Lists without
/// metadata are atomic.
pub fn list_type(field: Field) -> SsaList {
    field.list.map(|meta| meta.ssa).unwrap_or(SsaList::Atomic)
}

/// Returns the value at `path` in `object`.
pub fn lookup<'a>(object: &'a Value, root: Ty, path: &FieldPath) -> Option<&'a Value> {
    let mut current = object;
    let mut ty = root;
    let mut keys: &[&str] = &[];
    for element in &path.0 {
        match element {
            PathElement::Field(name) => {
                let field = ty.field(name);
                current = current.get(name)?;
                ty = field.ty;
                keys = match list_type(field) {
                    SsaList::Map(keys) => keys,
                    _ => &[],
                };
            }
            PathElement::Key(key) => {
                current = current
                    .as_array()?
                    .iter()
                    .find(|item| item_key(item, keys) == *key)?;
            }
            PathElement::Value(value) => {
                current = current
                    .as_array()?
                    .iter()
                    .find(|item| item.to_string() == *value)?;
            }
            PathElement::Index(index) => current = current.as_array()?.get(*index)?,
        }
    }
    Some(current)
}

/// Removes the value at `path` from `object`; a missing path is ignored.
pub fn remove(object: &mut Value, root: Ty, path: &FieldPath) {
    let Some((last, parent_path)) = path.0.split_last() else {
        return;
    };
    let parent_path = FieldPath(parent_path.to_vec());
    let keys = list_keys_at(root, &parent_path);
    let Some(parent) = lookup_mut(object, root, &parent_path) else {
        return;
    };
    match (last, parent) {
        (PathElement::Field(name), Value::Object(fields)) => {
            fields.remove(name);
        }
        (PathElement::Key(key), Value::Array(items)) => {
            items.retain(|item| item_key(item, keys) != *key);
        }
        (PathElement::Value(value), Value::Array(items)) => {
            if let Ok(wanted) = serde_json::from_str::<Value>(value) {
                items.retain(|item| *item != wanted);
            }
        }
        (PathElement::Index(index), Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

/// Returns the key fields of the associative list at `path`, if it is one.
fn list_keys_at(root: Ty, path: &FieldPath) -> &'static [&'static str] {
    let mut ty = root;
    let mut keys: &'static [&'static str] = &[];
    for element in &path.0 {
        if let PathElement::Field(name) = element {
            let field = ty.field(name);
            ty = field.ty;
            keys = match list_type(field) {
                SsaList::Map(keys) => keys,
                _ => &[],
            };
        }
    }
    keys
}

fn lookup_mut<'a>(object: &'a mut Value, root: Ty, path: &FieldPath) -> Option<&'a mut Value> {
    let mut current = object;
    let mut ty = root;
    let mut keys: &[&str] = &[];
    for element in &path.0 {
        current = match element {
            PathElement::Field(name) => {
                let field = ty.field(name);
                ty = field.ty;
                keys = match list_type(field) {
                    SsaList::Map(keys) => keys,
                    _ => &[],
                };
                current.as_object_mut()?.get_mut(name)?
            }
            PathElement::Key(key) => current
                .as_array_mut()?
                .iter_mut()
                .find(|item| item_key(item, keys) == *key)?,
            PathElement::Value(value) => current
                .as_array_mut()?
                .iter_mut()
                .find(|item| item.to_string() == *value)?,
            PathElement::Index(index) => current.as_array_mut()?.get_mut(*index)?,
        };
    }
    Some(current)
}

/// Returns an empty JSON object.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}
