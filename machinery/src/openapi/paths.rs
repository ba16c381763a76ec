//! Path items of the served resources: every verb of each resource and
//! subresource, with the query parameters and the
//! `x-kubernetes-group-version-kind` extension kubectl looks for on PATCH
//! operations before it sends `fieldValidation=Strict`.

use serde_json::{Map, Value, json};

use super::catalog::{GroupVersion, Resource, Subresource};
use super::schemas::Flavor;

const LIST_PARAMETERS: &[(&str, &str, &str)] = &[
    (
        "allowWatchBookmarks",
        "boolean",
        "requests watch events with type \"BOOKMARK\".",
    ),
    (
        "continue",
        "string",
        "continues a paginated list from the token of the previous page.",
    ),
    (
        "fieldSelector",
        "string",
        "restricts the list by the objects' fields.",
    ),
    (
        "labelSelector",
        "string",
        "restricts the list by the objects' labels.",
    ),
    (
        "limit",
        "integer",
        "is the maximum number of objects to return; the rest is reachable through continue.",
    ),
    (
        "resourceVersion",
        "string",
        "sets which resource versions the request may be served from.",
    ),
    (
        "resourceVersionMatch",
        "string",
        "sets how resourceVersion applies to list calls.",
    ),
    (
        "sendInitialEvents",
        "boolean",
        "makes a watch start with the current objects, then a bookmark.",
    ),
    (
        "timeoutSeconds",
        "integer",
        "is the timeout of the list or watch call.",
    ),
    (
        "watch",
        "boolean",
        "watches for changes to the described resources.",
    ),
];
const DRY_RUN: (&str, &str, &str) = (
    "dryRun",
    "string",
    "set to All means the modification is checked but not persisted.",
);
const FIELD_MANAGER: (&str, &str, &str) = (
    "fieldManager",
    "string",
    "is the name of the actor making the change, recorded in managedFields.",
);
const FIELD_VALIDATION: (&str, &str, &str) = (
    "fieldValidation",
    "string",
    "is Ignore, Warn or Strict: how unknown or duplicate fields in the body are handled.",
);
const FORCE: (&str, &str, &str) = (
    "force",
    "boolean",
    "takes the fields of other managers on conflict; only for apply requests.",
);
const DELETE_PARAMETERS: &[(&str, &str, &str)] = &[
    DRY_RUN,
    (
        "gracePeriodSeconds",
        "integer",
        "is the duration in seconds before the object is deleted.",
    ),
    (
        "propagationPolicy",
        "string",
        "is Orphan, Background or Foreground: how dependents are collected.",
    ),
];

/// The kind an operation reads or writes.
#[derive(Clone)]
struct Kind {
    group: String,
    version: String,
    kind: String,
    schema: String,
}

impl Kind {
    fn gvk(&self) -> Value {
        json!({ "group": self.group, "kind": self.kind, "version": self.version })
    }
}

struct Builder<'a> {
    flavor: Flavor,
    gv: &'a GroupVersion,
    schema_of: &'a dyn Fn(&str) -> Option<String>,
    tag: String,
}

/// Builds the `paths` object of `gv`. `schema_of` maps a kind name (as
/// `group/kind`) to its component schema name.
pub fn build(
    gv: &GroupVersion,
    flavor: Flavor,
    schema_of: &dyn Fn(&str) -> Option<String>,
) -> Map<String, Value> {
    let tag = if gv.group.is_empty() {
        format!("core_{}", gv.version)
    } else {
        format!(
            "{}_{}",
            gv.group.split('.').next().unwrap_or(gv.group),
            gv.version
        )
    };
    let builder = Builder {
        flavor,
        gv,
        schema_of,
        tag,
    };
    let mut paths = Map::new();
    for resource in gv.resources {
        builder.add_resource(resource, &mut paths);
    }
    paths
}

impl Builder<'_> {
    fn kind_of(&self, group: &str, version: &str, kind: &str) -> Option<Kind> {
        let schema = (self.schema_of)(&format!("{group}/{kind}"))?;
        Some(Kind {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            schema,
        })
    }

    fn add_resource(&self, resource: &Resource, paths: &mut Map<String, Value>) {
        let Some(kind) = self.kind_of(self.gv.group, self.gv.version, resource.kind) else {
            return;
        };
        let list_kind = Kind {
            kind: format!("{}List", resource.kind),
            schema: format!("{}List", kind.schema),
            ..kind.clone()
        };
        let prefix = self.gv.url_prefix();
        let scope = if resource.namespaced {
            "namespaces/{namespace}/"
        } else {
            ""
        };
        let collection = format!("{prefix}/{scope}{}", resource.plural);
        let item = format!("{collection}/{{name}}");
        let op_kind = |verb: &str, suffix: &str| self.operation_id(verb, resource, suffix);

        let kind = &kind;
        let mut collection_item = Map::new();
        collection_item.insert(
            "get".into(),
            self.operation(
                "list",
                &op_kind("list", ""),
                &list_kind,
                LIST_PARAMETERS,
                None,
            ),
        );
        collection_item.insert(
            "post".into(),
            self.operation(
                "post",
                &op_kind("create", ""),
                kind,
                &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
                Some(kind),
            ),
        );
        if resource.namespaced || resource.kind != "Namespace" {
            let mut params = DELETE_PARAMETERS.to_vec();
            params.extend_from_slice(LIST_PARAMETERS);
            collection_item.insert(
                "delete".into(),
                self.operation(
                    "deletecollection",
                    &op_kind("deletecollection", ""),
                    &status_kind(),
                    &params,
                    None,
                ),
            );
        }
        collection_item.insert(
            "parameters".into(),
            self.path_parameters(resource.namespaced, false),
        );
        paths.insert(collection, Value::Object(collection_item));

        paths.insert(
            item.clone(),
            Value::Object(self.item_operations(resource, kind, "", resource.namespaced)),
        );
        if resource.namespaced {
            let all = format!("{prefix}/{}", resource.plural);
            let mut all_item = Map::new();
            all_item.insert(
                "get".into(),
                self.operation(
                    "list",
                    &format!(
                        "list{}{}ForAllNamespaces",
                        self.group_camel(),
                        resource.kind
                    ),
                    &list_kind,
                    LIST_PARAMETERS,
                    None,
                ),
            );
            paths.insert(all, Value::Object(all_item));
        }
        for subresource in resource.subresources {
            self.add_subresource(resource, kind, &item, *subresource, paths);
        }
    }

    fn add_subresource(
        &self,
        resource: &Resource,
        kind: &Kind,
        item: &str,
        subresource: Subresource,
        paths: &mut Map<String, Value>,
    ) {
        match subresource {
            Subresource::Status => {
                let operations =
                    self.item_operations(resource, kind, "Status", resource.namespaced);
                paths.insert(format!("{item}/status"), Value::Object(operations));
            }
            Subresource::Scale => {
                let Some(scale) = self.kind_of("autoscaling", "v1", "Scale") else {
                    return;
                };
                let operations =
                    self.item_operations(resource, &scale, "Scale", resource.namespaced);
                paths.insert(format!("{item}/scale"), Value::Object(operations));
            }
            Subresource::Binding => {
                let Some(binding) = self.kind_of("", "v1", "Binding") else {
                    return;
                };
                let mut operations = Map::new();
                let id = self.operation_id("create", resource, "Binding");
                operations.insert(
                    "post".into(),
                    self.operation(
                        "post",
                        &id,
                        &binding,
                        &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
                        Some(&binding),
                    ),
                );
                operations.insert(
                    "parameters".into(),
                    self.path_parameters(resource.namespaced, true),
                );
                paths.insert(format!("{item}/binding"), Value::Object(operations));
            }
            Subresource::Log => {
                let mut operations = Map::new();
                let id = self.operation_id("read", resource, "Log");
                let params = [
                    (
                        "container",
                        "string",
                        "is the container whose log to stream.",
                    ),
                    ("follow", "boolean", "streams the log as it grows."),
                    (
                        "previous",
                        "boolean",
                        "returns the log of the previous container instance.",
                    ),
                    (
                        "sinceSeconds",
                        "integer",
                        "returns only lines newer than this many seconds.",
                    ),
                    (
                        "tailLines",
                        "integer",
                        "returns only this many lines from the end.",
                    ),
                    (
                        "timestamps",
                        "boolean",
                        "prefixes every line with its RFC 3339 timestamp.",
                    ),
                ];
                let mut operation = self.base_operation("get", &id, &params);
                let response = match self.flavor {
                    Flavor::V3 => {
                        json!({"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}})
                    }
                    Flavor::V2 => {
                        json!({"200": {"description": "OK", "schema": {"type": "string"}}})
                    }
                };
                operation.insert("responses".into(), response);
                operations.insert("get".into(), Value::Object(operation));
                operations.insert(
                    "parameters".into(),
                    self.path_parameters(resource.namespaced, true),
                );
                paths.insert(format!("{item}/log"), Value::Object(operations));
            }
        }
    }

    /// get, put, patch (and delete for the object itself) of one object.
    fn item_operations(
        &self,
        resource: &Resource,
        kind: &Kind,
        suffix: &str,
        namespaced: bool,
    ) -> Map<String, Value> {
        let mut operations = Map::new();
        operations.insert(
            "get".into(),
            self.operation(
                "get",
                &self.operation_id("read", resource, suffix),
                kind,
                &[],
                None,
            ),
        );
        operations.insert(
            "put".into(),
            self.operation(
                "put",
                &self.operation_id("replace", resource, suffix),
                kind,
                &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
                Some(kind),
            ),
        );
        operations.insert(
            "patch".into(),
            self.operation(
                "patch",
                &self.operation_id("patch", resource, suffix),
                kind,
                &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
                None,
            ),
        );
        if suffix.is_empty() {
            operations.insert(
                "delete".into(),
                self.operation(
                    "delete",
                    &self.operation_id("delete", resource, ""),
                    &status_kind(),
                    DELETE_PARAMETERS,
                    None,
                ),
            );
        }
        operations.insert("parameters".into(), self.path_parameters(namespaced, true));
        operations
    }

    fn group_camel(&self) -> String {
        let group = if self.gv.group.is_empty() {
            "core"
        } else {
            self.gv.group.split('.').next().unwrap_or("")
        };
        format!("{}{}", capitalize(group), capitalize(self.gv.version))
    }

    fn operation_id(&self, verb: &str, resource: &Resource, suffix: &str) -> String {
        let scope = if resource.namespaced {
            "Namespaced"
        } else {
            ""
        };
        format!(
            "{verb}{}{scope}{}{suffix}",
            self.group_camel(),
            resource.kind
        )
    }

    fn base_operation(
        &self,
        action: &str,
        id: &str,
        parameters: &[(&str, &str, &str)],
    ) -> Map<String, Value> {
        let mut operation = Map::new();
        operation.insert("tags".into(), json!([self.tag]));
        operation.insert("description".into(), json!(describe(action)));
        operation.insert("operationId".into(), json!(id));
        let parameters: Vec<Value> = parameters
            .iter()
            .map(|(name, kind, text)| self.query_parameter(name, kind, text))
            .collect();
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if self.flavor == Flavor::V2 {
            operation.insert(
                "produces".into(),
                json!(["application/json", "application/yaml"]),
            );
            operation.insert("schemes".into(), json!(["https"]));
            if action != "patch" {
                operation.insert("consumes".into(), json!(["*/*"]));
            }
        }
        let verb = match action {
            "get" => "get",
            "list" => "list",
            "post" => "post",
            "put" => "put",
            "patch" => "patch",
            "delete" => "delete",
            _ => "deletecollection",
        };
        operation.insert("x-kubernetes-action".into(), json!(verb));
        operation
    }

    /// Builds one operation returning `kind`, with a request body of `body` if set.
    fn operation(
        &self,
        action: &str,
        id: &str,
        kind: &Kind,
        parameters: &[(&str, &str, &str)],
        body: Option<&Kind>,
    ) -> Value {
        let mut operation = self.base_operation(action, id, parameters);
        let reference = self.flavor.reference(&kind.schema);
        let responses = match self.flavor {
            Flavor::V3 => {
                let content = json!({"application/json": {"schema": reference}, "application/yaml": {"schema": reference}});
                let mut responses = json!({"200": {"description": "OK", "content": content}, "401": {"description": "Unauthorized"}});
                if action == "post" {
                    responses["201"] = json!({"description": "Created", "content": content});
                    responses["202"] = json!({"description": "Accepted", "content": content});
                }
                responses
            }
            Flavor::V2 => {
                let mut responses = json!({"200": {"description": "OK", "schema": reference}, "401": {"description": "Unauthorized"}});
                if action == "post" {
                    responses["201"] = json!({"description": "Created", "schema": reference});
                    responses["202"] = json!({"description": "Accepted", "schema": reference});
                }
                responses
            }
        };
        operation.insert("responses".into(), responses);
        if let Some(body) = body {
            let body_reference = self.flavor.reference(&body.schema);
            match self.flavor {
                Flavor::V3 => {
                    let body =
                        json!({"content": {"*/*": {"schema": body_reference}}, "required": true});
                    operation.insert("requestBody".into(), body);
                }
                Flavor::V2 => {
                    let body = json!({"name": "body", "in": "body", "required": true, "schema": body_reference});
                    if let Some(Value::Array(parameters)) = operation.get_mut("parameters") {
                        parameters.insert(0, body);
                    }
                }
            }
        }
        operation.insert("x-kubernetes-group-version-kind".into(), kind.gvk());
        Value::Object(operation)
    }

    fn query_parameter(&self, name: &str, kind: &str, text: &str) -> Value {
        let description = format!("{name} {text}");
        match self.flavor {
            Flavor::V3 => {
                json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
            }
            Flavor::V2 => {
                json!({"name": name, "in": "query", "description": description, "type": kind, "uniqueItems": true})
            }
        }
    }

    fn path_parameter(&self, name: &str, description: &str) -> Value {
        match self.flavor {
            Flavor::V3 => {
                json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string", "uniqueItems": true}})
            }
            Flavor::V2 => {
                json!({"name": name, "in": "path", "required": true, "description": description, "type": "string", "uniqueItems": true})
            }
        }
    }

    fn path_parameters(&self, namespaced: bool, named: bool) -> Value {
        let mut parameters = Vec::new();
        if named {
            parameters.push(self.path_parameter("name", "name of the object"));
        }
        if namespaced {
            parameters.push(self.path_parameter(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }
        parameters.push(self.query_parameter(
            "pretty",
            "string",
            "set to true pretty-prints the output.",
        ));
        Value::Array(parameters)
    }
}

fn status_kind() -> Kind {
    Kind {
        group: String::new(),
        version: "v1".to_string(),
        kind: "Status".to_string(),
        schema: "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_string(),
    }
}

fn describe(action: &str) -> &'static str {
    match action {
        "get" => "read the specified object",
        "list" => "list or watch objects",
        "post" => "create an object",
        "put" => "replace the specified object",
        "patch" => "partially update the specified object",
        "delete" => "delete an object",
        _ => "delete a collection of objects",
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
