//! Server-side apply: merging an applied configuration into the live object
//! and tracking field ownership in `metadata.managedFields`.

use serde_json::Value;

use crate::Gvk;
use crate::patch::schema::Ty;

mod check;
mod conflict;
pub mod fieldpath;
mod managed;
mod merge;
#[cfg(test)]
mod tests;
mod walk;

pub use conflict::{FieldConflict, conflicts_message};
use fieldpath::{FieldPath, FieldSet};
use managed::{
    APPLY, Manager, UPDATE, has_managed_fields, parse_time, read_managers, write_managers,
};
use walk::{Scope, field_set, lookup, owned_paths};

/// The manager Kubernetes names as owner of every field of an object that
/// had no `managedFields` when it was first applied to.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The apply configuration is malformed, which the apiserver reports as 400.
    #[error("invalid apply configuration: {0}")]
    Invalid(String),
    /// Other managers own fields this apply changes; retry with `force=true`.
    /// The message is Kubernetes' 409 message.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<FieldConflict>),
}

/// Merges `applied` (an apply configuration) into `live` (absent on create)
/// for `manager` and returns the new object with updated `managedFields`.
/// `now` is the RFC 3339 time recorded in the managed-fields entry.
pub fn server_side_apply(
    gvk: &Gvk,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_in_scope(gvk, live, applied, manager, force, now, None)
}

/// Like [`server_side_apply`], for an apply to a subresource. Through
/// `status` only the `status` field is merged and owned; other subresources,
/// such as `scale`, write the main resource's fields under their own entry.
pub fn server_side_apply_subresource(
    gvk: &Gvk,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_in_scope(gvk, live, applied, manager, force, now, Some(subresource))
}

fn apply_in_scope(
    gvk: &Gvk,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
    subresource: Option<&str>,
) -> Result<Value, ApplyError> {
    check_applied(gvk, applied)?;
    check::check_lists(applied, Ty::of_kind(gvk)).map_err(ApplyError::Invalid)?;
    let scope = subresource.map_or(Scope::Main, Scope::Subresource);
    let subresource = subresource.unwrap_or("");
    let root = Ty::of_kind(gvk);
    let live_object = live.cloned().unwrap_or_else(walk::empty_object);
    let mut managers = read_managers(&live_object);
    if live.is_some() && managers.is_empty() {
        let mut owner = Manager::new(BEFORE_FIRST_APPLY, UPDATE, &gvk.api_version(), "");
        owner.fields = field_set(&live_object, root, Scope::Main);
        managers.push(owner);
    }
    let mine = managers
        .iter()
        .position(|entry| entry.is(manager, APPLY, subresource));
    let previous = mine
        .map(|index| managers.remove(index).fields)
        .unwrap_or_default();
    let applied_set = field_set(applied, root, scope);
    let mut merged = merge::merge_applied(&live_object, applied, root, scope);

    let changed = changed_paths(&live_object, &merged, applied, root, scope);
    let conflicts = find_conflicts(&managers, &changed);
    if !conflicts.is_empty() && !force {
        return Err(ApplyError::Conflicts(conflicts));
    }
    remove_unapplied(&mut merged, root, &previous, &applied_set, &managers);
    for other in &mut managers {
        other.fields.0.retain(|path| !changed.contains(path));
    }
    let mut entry = Manager::new(manager, APPLY, &gvk.api_version(), subresource);
    entry.fields = applied_set;
    entry.time = parse_time(now);
    managers.push(entry);
    prune_missing(&mut managers, &merged, root);
    write_managers(&mut merged, managers);
    Ok(merged)
}

fn check_applied(gvk: &Gvk, applied: &Value) -> Result<(), ApplyError> {
    let Value::Object(fields) = applied else {
        return Err(ApplyError::Invalid(
            "the apply configuration must be an object".to_string(),
        ));
    };
    let api_version = fields.get("apiVersion").and_then(Value::as_str);
    let kind = fields.get("kind").and_then(Value::as_str);
    match (api_version, kind) {
        (None, _) => Err(ApplyError::Invalid(
            "apiVersion must be set in the apply configuration".to_string(),
        )),
        (_, None) => Err(ApplyError::Invalid(
            "kind must be set in the apply configuration".to_string(),
        )),
        (Some(api_version), Some(kind)) if api_version != gvk.api_version() || kind != gvk.kind => {
            Err(ApplyError::Invalid(format!(
                "the apply configuration is a {api_version}, Kind={kind} but the request is for {gvk}"
            )))
        }
        _ => Ok(()),
    }
}

/// Returns the applied leaf paths whose live value the merge changed.
fn changed_paths(
    live: &Value,
    merged: &Value,
    applied: &Value,
    root: Ty,
    scope: Scope<'_>,
) -> FieldSet {
    let mut changed = FieldSet::default();
    for (path, value) in owned_paths(applied, root, scope) {
        if value.is_null() {
            continue;
        }
        let before = lookup(live, root, &path);
        if before.is_some() && before != lookup(merged, root, &path) {
            changed.0.insert(path);
        }
    }
    changed
}

fn find_conflicts(managers: &[Manager], changed: &FieldSet) -> Vec<FieldConflict> {
    let mut conflicts = Vec::new();
    for other in managers {
        for path in changed.0.iter().filter(|path| other.fields.contains(path)) {
            conflicts.push(FieldConflict::new(other, path));
        }
    }
    conflicts
}

/// Removes the fields this manager applied before and no longer applies,
/// unless another manager still owns them or something below them.
fn remove_unapplied(
    merged: &mut Value,
    root: Ty,
    previous: &FieldSet,
    applied: &FieldSet,
    others: &[Manager],
) {
    for path in previous.0.difference(&applied.0) {
        let kept = applied.covers(path) || others.iter().any(|other| other.fields.covers(path));
        if !kept {
            walk::remove(merged, root, path);
        }
    }
}

/// Drops owned paths that no longer exist in `object`.
fn prune_missing(managers: &mut [Manager], object: &Value, root: Ty) {
    for manager in managers {
        manager
            .fields
            .0
            .retain(|path| lookup(object, root, path).is_some());
    }
}

/// Records a non-apply write (create, update, patch) by `manager` in the
/// `managedFields` of `new`, taking ownership of the fields it changed from `old`.
pub fn record_update(gvk: &Gvk, old: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    record_in_scope(gvk, old, new, manager, None, now);
}

/// Like [`record_update`], for a write to a subresource. Through `status`
/// only changes below `status` are recorded; other subresources, such as
/// `scale`, record main-resource fields under their own entry.
pub fn record_subresource_update(
    gvk: &Gvk,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: &str,
    now: &str,
) {
    record_in_scope(gvk, old, new, manager, Some(subresource), now);
}

fn record_in_scope(
    gvk: &Gvk,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    let scope = subresource.map_or(Scope::Main, Scope::Subresource);
    let subresource = subresource.unwrap_or("");
    let root = Ty::of_kind(gvk);
    let mut managers = match old {
        Some(old) if !has_managed_fields(new) => read_managers(old),
        _ => read_managers(new),
    };
    let empty = walk::empty_object();
    let old = old.unwrap_or(&empty);
    let changed = updated_paths(old, new, root, scope);
    let position = managers
        .iter()
        .position(|entry| entry.is(manager, UPDATE, subresource));
    let mut entry = match position {
        Some(index) => managers.remove(index),
        None => Manager::new(manager, UPDATE, &gvk.api_version(), subresource),
    };
    for other in &mut managers {
        other.fields.0.retain(|path| !changed.contains(path));
    }
    if !changed.is_empty() {
        entry.fields.0.extend(changed.0);
        entry.api_version = gvk.api_version();
        entry.time = parse_time(now);
    }
    managers.push(entry);
    prune_missing(&mut managers, new, root);
    write_managers(new, managers);
}

/// Returns the owned paths of `new` that `old` lacks or has with another value.
fn updated_paths(old: &Value, new: &Value, root: Ty, scope: Scope<'_>) -> FieldSet {
    let mut changed = FieldSet::default();
    for (path, value) in owned_paths(new, root, scope) {
        let before = lookup(old, root, &path);
        let differs = match before {
            None => true,
            Some(_) if value.is_null() => false,
            Some(before) => *before != value,
        };
        if differs {
            changed.0.insert(path);
        }
    }
    changed
}

/// Returns the paths `manager` owns through `operation` (`Apply` or
/// `Update`) in `object`'s `managedFields`, formatted like `.spec.replicas`.
pub fn owned_fields(object: &Value, manager: &str, operation: &str) -> Vec<String> {
    read_managers(object)
        .iter()
        .filter(|entry| entry.name == manager && entry.operation == operation)
        .flat_map(|entry| entry.fields.0.iter().map(FieldPath::to_string))
        .collect()
}
