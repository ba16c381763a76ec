//! The `/openapi/v2` document as a gnostic `openapi.v2.Document` protobuf
//! (package `openapi.v2` of github.com/google/gnostic-models), which
//! kubectl requests with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
//! Only the messages and fields this server fills in are declared; the
//! field numbers are those of the gnostic schema.

use serde_json::{Map, Value};

#[derive(Clone, PartialEq, prost::Message)]
pub struct Document {
    #[prost(string, tag = "1")]
    pub swagger: String,
    #[prost(message, optional, tag = "2")]
    pub info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    pub paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    pub definitions: Option<Definitions>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Info {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Paths {
    #[prost(message, repeated, tag = "2")]
    pub path: Vec<NamedPathItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedPathItem {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<PathItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PathItem {
    #[prost(message, optional, tag = "2")]
    pub get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    pub put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    pub post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    pub delete: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    pub patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    pub parameters: Vec<ParametersItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, repeated, tag = "1")]
    pub tags: Vec<String>,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "5")]
    pub operation_id: String,
    #[prost(string, repeated, tag = "6")]
    pub produces: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub consumes: Vec<String>,
    #[prost(message, repeated, tag = "8")]
    pub parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    pub responses: Option<Responses>,
    #[prost(string, repeated, tag = "10")]
    pub schemes: Vec<String>,
    #[prost(message, repeated, tag = "13")]
    pub vendor_extension: Vec<NamedAny>,
}

/// `ParametersItem`, whose oneof contains a `Parameter` (tag 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ParametersItem {
    #[prost(message, optional, tag = "1")]
    pub parameter: Option<Parameter>,
}

/// `Parameter`: a body parameter (tag 1) or a non-body one (tag 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Parameter {
    #[prost(message, optional, tag = "1")]
    pub body_parameter: Option<BodyParameter>,
    #[prost(message, optional, tag = "2")]
    pub non_body_parameter: Option<NonBodyParameter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BodyParameter {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub r#in: String,
    #[prost(bool, tag = "4")]
    pub required: bool,
    #[prost(message, optional, tag = "5")]
    pub schema: Option<Schema>,
}

/// `NonBodyParameter`: a query (tag 3) or path (tag 4) parameter.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NonBodyParameter {
    #[prost(message, optional, tag = "3")]
    pub query_parameter_sub_schema: Option<QueryParameterSubSchema>,
    #[prost(message, optional, tag = "4")]
    pub path_parameter_sub_schema: Option<PathParameterSubSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub required: bool,
    #[prost(string, tag = "2")]
    pub r#in: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub name: String,
    #[prost(string, tag = "6")]
    pub r#type: String,
    #[prost(bool, tag = "20")]
    pub unique_items: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PathParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub required: bool,
    #[prost(string, tag = "2")]
    pub r#in: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub name: String,
    #[prost(string, tag = "5")]
    pub r#type: String,
    #[prost(bool, tag = "19")]
    pub unique_items: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Responses {
    #[prost(message, repeated, tag = "1")]
    pub response_code: Vec<NamedResponseValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedResponseValue {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<ResponseValue>,
}

/// `ResponseValue`, whose oneof contains a `Response` (tag 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseValue {
    #[prost(message, optional, tag = "1")]
    pub response: Option<Response>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(message, optional, tag = "2")]
    pub schema: Option<SchemaItem>,
}

/// `SchemaItem`, whose oneof contains a `Schema` (tag 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SchemaItem {
    #[prost(message, optional, tag = "1")]
    pub schema: Option<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Schema {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub format: String,
    #[prost(string, tag = "3")]
    pub title: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(string, repeated, tag = "19")]
    pub required: Vec<String>,
    #[prost(message, optional, boxed, tag = "21")]
    pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    pub r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub properties: Option<Properties>,
    #[prost(message, repeated, tag = "31")]
    pub vendor_extension: Vec<NamedAny>,
}

/// `AdditionalPropertiesItem`: a schema (tag 1) or a boolean (tag 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AdditionalPropertiesItem {
    #[prost(message, optional, tag = "1")]
    pub schema: Option<Schema>,
    #[prost(bool, optional, tag = "2")]
    pub boolean: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub value: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub schema: Vec<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedAny {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Any>,
}

/// `Any`, carrying its value as YAML text (tag 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "2")]
    pub yaml: String,
}

/// Converts a Swagger 2.0 document in JSON form into the protobuf message.
pub fn document_from_json(document: &Value) -> Document {
    let info = Info {
        title: text(document, "/info/title"),
        version: text(document, "/info/version"),
    };
    let mut paths = Vec::new();
    if let Some(Value::Object(items)) = document.get("paths") {
        for (name, item) in items {
            paths.push(NamedPathItem {
                name: name.clone(),
                value: Some(path_item(item)),
            });
        }
    }
    let definitions = document
        .get("definitions")
        .and_then(Value::as_object)
        .map(|definitions| Definitions {
            additional_properties: named_schemas(definitions),
        });
    Document {
        swagger: text(document, "/swagger"),
        info: Some(info),
        paths: Some(Paths { path: paths }),
        definitions,
    }
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn path_item(item: &Value) -> PathItem {
    let operation = |verb: &str| item.get(verb).map(operation);
    PathItem {
        get: operation("get"),
        put: operation("put"),
        post: operation("post"),
        delete: operation("delete"),
        patch: operation("patch"),
        parameters: parameters(item),
    }
}

fn operation(operation: &Value) -> Operation {
    let responses = operation
        .get("responses")
        .and_then(Value::as_object)
        .map(|codes| Responses {
            response_code: codes
                .iter()
                .map(|(code, response)| NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        response: Some(Response {
                            description: text(response, "/description"),
                            schema: response.get("schema").map(|schema| SchemaItem {
                                schema: Some(schema_from_json(schema)),
                            }),
                        }),
                    }),
                })
                .collect(),
        });
    Operation {
        tags: strings(operation, "tags"),
        description: text(operation, "/description"),
        operation_id: text(operation, "/operationId"),
        produces: strings(operation, "produces"),
        consumes: strings(operation, "consumes"),
        parameters: parameters(operation),
        responses,
        schemes: strings(operation, "schemes"),
        vendor_extension: operation
            .as_object()
            .map(vendor_extensions)
            .unwrap_or_default(),
    }
}

fn parameters(holder: &Value) -> Vec<ParametersItem> {
    let Some(Value::Array(parameters)) = holder.get("parameters") else {
        return Vec::new();
    };
    parameters
        .iter()
        .map(|parameter| ParametersItem {
            parameter: Some(parameter_from_json(parameter)),
        })
        .collect()
}

fn parameter_from_json(parameter: &Value) -> Parameter {
    let location = text(parameter, "/in");
    let required = parameter
        .get("required")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let unique_items = parameter
        .get("uniqueItems")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut result = Parameter::default();
    match location.as_str() {
        "body" => {
            result.body_parameter = Some(BodyParameter {
                description: text(parameter, "/description"),
                name: text(parameter, "/name"),
                r#in: location,
                required,
                schema: parameter.get("schema").map(schema_from_json),
            });
        }
        "path" => {
            let path = PathParameterSubSchema {
                required,
                r#in: location,
                description: text(parameter, "/description"),
                name: text(parameter, "/name"),
                r#type: text(parameter, "/type"),
                unique_items,
            };
            result.non_body_parameter = Some(NonBodyParameter {
                path_parameter_sub_schema: Some(path),
                ..Default::default()
            });
        }
        _ => {
            let query = QueryParameterSubSchema {
                required,
                r#in: location,
                description: text(parameter, "/description"),
                name: text(parameter, "/name"),
                r#type: text(parameter, "/type"),
                unique_items,
            };
            result.non_body_parameter = Some(NonBodyParameter {
                query_parameter_sub_schema: Some(query),
                ..Default::default()
            });
        }
    }
    result
}

fn named_schemas(schemas: &Map<String, Value>) -> Vec<NamedSchema> {
    schemas
        .iter()
        .map(|(name, schema)| NamedSchema {
            name: name.clone(),
            value: Some(schema_from_json(schema)),
        })
        .collect()
}

/// Vendor extensions (`x-` keys) with their values as YAML. The values are
/// written as compact JSON, which is valid YAML.
fn vendor_extensions(object: &Map<String, Value>) -> Vec<NamedAny> {
    object
        .iter()
        .filter(|(key, _)| key.starts_with("x-"))
        .map(|(key, value)| NamedAny {
            name: key.clone(),
            value: Some(Any {
                yaml: value.to_string(),
            }),
        })
        .collect()
}

/// Converts a JSON schema into the gnostic `Schema` message.
pub fn schema_from_json(schema: &Value) -> Schema {
    let Value::Object(fields) = schema else {
        return Schema::default();
    };
    let types = match fields.get("type") {
        Some(Value::String(single)) => vec![single.clone()],
        Some(Value::Array(_)) => strings(schema, "type"),
        _ => Vec::new(),
    };
    let additional_properties = match fields.get("additionalProperties") {
        Some(Value::Bool(allowed)) => Some(Box::new(AdditionalPropertiesItem {
            schema: None,
            boolean: Some(*allowed),
        })),
        Some(nested @ Value::Object(_)) => Some(Box::new(AdditionalPropertiesItem {
            schema: Some(schema_from_json(nested)),
            boolean: None,
        })),
        _ => None,
    };
    let items = match fields.get("items") {
        Some(Value::Array(many)) => Some(ItemsItem {
            schema: many.iter().map(schema_from_json).collect(),
        }),
        Some(single) => Some(ItemsItem {
            schema: vec![schema_from_json(single)],
        }),
        None => None,
    };
    Schema {
        r#ref: text(schema, "/$ref"),
        format: text(schema, "/format"),
        title: text(schema, "/title"),
        description: text(schema, "/description"),
        required: strings(schema, "required"),
        additional_properties,
        r#type: (!types.is_empty()).then_some(TypeItem { value: types }),
        items,
        all_of: fields
            .get("allOf")
            .and_then(Value::as_array)
            .map(|all| all.iter().map(schema_from_json).collect())
            .unwrap_or_default(),
        properties: fields
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| Properties {
                additional_properties: named_schemas(properties),
            }),
        vendor_extension: vendor_extensions(fields),
    }
}
