//! Columns of the kinds whose rows are a few plain fields: Namespace,
//! ConfigMap, Secret, ServiceAccount, Lease, and the default Name and
//! Created At columns of any other kind.

use serde_json::{Value, json};

use super::{AGE, Column, NAME, age_of, column, len_of, name_of, text};

pub(super) fn namespace_columns() -> Vec<Column> {
    vec![
        NAME,
        column("Status", "string", 0, "The status of the namespace"),
        AGE,
    ]
}

pub(super) fn namespace_cells(namespace: &Value, now: i64) -> Vec<Value> {
    vec![
        name_of(namespace),
        json!(text(&namespace["status"]["phase"])),
        age_of(namespace, now),
    ]
}

pub(super) fn config_map_columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Data",
            "integer",
            0,
            "Data contains the configuration data.",
        ),
        AGE,
    ]
}

pub(super) fn config_map_cells(config_map: &Value, now: i64) -> Vec<Value> {
    let entries = len_of(&config_map["data"]) + len_of(&config_map["binaryData"]);
    vec![name_of(config_map), json!(entries), age_of(config_map, now)]
}

pub(super) fn secret_columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Type",
            "string",
            0,
            "Used to facilitate programmatic handling of secret data.",
        ),
        column("Data", "integer", 0, "Data contains the secret data."),
        AGE,
    ]
}

pub(super) fn secret_cells(secret: &Value, now: i64) -> Vec<Value> {
    vec![
        name_of(secret),
        json!(text(&secret["type"])),
        json!(len_of(&secret["data"])),
        age_of(secret, now),
    ]
}

pub(super) fn service_account_columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Secrets",
            "integer",
            0,
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
        ),
        AGE,
    ]
}

pub(super) fn service_account_cells(account: &Value, now: i64) -> Vec<Value> {
    vec![
        name_of(account),
        json!(len_of(&account["secrets"])),
        age_of(account, now),
    ]
}

pub(super) fn lease_columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Holder",
            "string",
            0,
            "holderIdentity contains the identity of the holder of a current lease.",
        ),
        AGE,
    ]
}

pub(super) fn lease_cells(lease: &Value, now: i64) -> Vec<Value> {
    vec![
        name_of(lease),
        json!(text(&lease["spec"]["holderIdentity"])),
        age_of(lease, now),
    ]
}

/// Kubernetes' default table for kinds without a printer.
pub(super) fn default_columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Created At",
            "date",
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
    ]
}

pub(super) fn default_cells(object: &Value) -> Vec<Value> {
    vec![
        name_of(object),
        json!(text(&object["metadata"]["creationTimestamp"])),
    ]
}
