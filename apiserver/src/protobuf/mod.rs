//! Decoding of Kubernetes protobuf request bodies into JSON objects.
//!
//! kubectl 1.32 and later send typed-client writes (`kubectl create
//! configmap`, `create secret`, `create namespace`, `create serviceaccount`,
//! `create deployment`) as `application/vnd.kubernetes.protobuf`. The body is
//! the magic `k8s\0` followed by a `runtime.Unknown` message whose `raw` field
//! holds the object. Only the kinds and fields in [`schema`] are known; a
//! non-empty field outside them is rejected rather than dropped.

mod schema;
mod wire;

use base64::Engine;
use serde_json::{Map, Value};

use schema::{Kind, Message};
use wire::{Reader, WireValue};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("malformed protobuf body: {0}")]
    Malformed(String),
    #[error("protobuf bodies of kind {0} are not supported; send application/json")]
    UnsupportedKind(String),
    #[error("protobuf field {number} of {message} is not supported; send application/json")]
    UnsupportedField { message: &'static str, number: u64 },
}

/// Decodes a protobuf body into a JSON object with `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| ProtobufError::Malformed("missing the k8s\\0 prefix".to_string()))?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut reader = Reader::new(envelope);
    while let Some((number, value)) = reader.next_field()? {
        match (number, value) {
            (1, WireValue::Bytes(type_meta)) => {
                let mut inner = Reader::new(type_meta);
                while let Some((field, value)) = inner.next_field()? {
                    match (field, value) {
                        (1, WireValue::Bytes(text)) => api_version = utf8(text)?,
                        (2, WireValue::Bytes(text)) => kind = utf8(text)?,
                        _ => {}
                    }
                }
            }
            (2, WireValue::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    let message = schema::message_for(group, &kind)
        .ok_or_else(|| ProtobufError::UnsupportedKind(kind.clone()))?;
    let mut object = decode_message(message, raw)?;
    object.insert("apiVersion".to_string(), Value::String(api_version));
    object.insert("kind".to_string(), Value::String(kind));
    Ok(Value::Object(object))
}

fn decode_message(
    message: &'static Message,
    data: &[u8],
) -> Result<Map<String, Value>, ProtobufError> {
    let mut out = Map::new();
    let mut reader = Reader::new(data);
    while let Some((number, value)) = reader.next_field()? {
        let Some(field) = message.fields.iter().find(|f| f.number == number) else {
            if is_empty(&value) {
                continue;
            }
            return Err(ProtobufError::UnsupportedField {
                message: message.name,
                number,
            });
        };
        if field.omit_zero && is_empty(&value) {
            continue;
        }
        let Some(decoded) = decode_value(field.kind, value)? else {
            continue;
        };
        match field.kind {
            Kind::MapStringString | Kind::MapStringBytes => {
                if let Value::Array(pair) = decoded
                    && let [Value::String(key), entry] = pair.as_slice()
                {
                    let map = out
                        .entry(field.name)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(map) = map.as_object_mut() {
                        map.insert(key.clone(), entry.clone());
                    }
                }
            }
            _ if field.repeated => {
                let list = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Some(list) = list.as_array_mut() {
                    list.push(decoded);
                }
            }
            _ => {
                out.insert(field.name.to_string(), decoded);
            }
        }
    }
    Ok(out)
}

/// Zero values that Go's generated marshallers write for non-pointer fields,
/// including nested messages whose fields are all zero.
fn is_empty(value: &WireValue<'_>) -> bool {
    match value {
        WireValue::Varint(v) | WireValue::Fixed64(v) => *v == 0,
        WireValue::Fixed32(v) => *v == 0,
        WireValue::Bytes(bytes) => bytes.is_empty() || is_empty_message(bytes),
    }
}

fn is_empty_message(bytes: &[u8]) -> bool {
    let mut reader = Reader::new(bytes);
    loop {
        match reader.next_field() {
            Ok(None) => return true,
            Ok(Some((_, value))) if is_empty(&value) => {}
            _ => return false,
        }
    }
}

/// Decodes one field value; `None` for empty values that JSON leaves out.
/// Map entries come back as a two-element array `[key, value]`.
fn decode_value(kind: Kind, value: WireValue<'_>) -> Result<Option<Value>, ProtobufError> {
    let decoded = match (kind, value) {
        (Kind::String, WireValue::Bytes(bytes)) => {
            let text = utf8(bytes)?;
            (!text.is_empty()).then_some(Value::String(text))
        }
        (Kind::Bool, WireValue::Varint(v)) => Some(Value::Bool(v != 0)),
        // Protobuf int32 and int64 share the varint encoding; negative int32
        // values are sign-extended to 64 bits.
        #[allow(clippy::cast_possible_wrap)]
        (Kind::Int, WireValue::Varint(v)) => Some(Value::from(v as i64)),
        (Kind::Time, WireValue::Bytes(bytes)) => decode_time(bytes)?,
        (Kind::Message(message), WireValue::Bytes(bytes)) => {
            let map = decode_message(message, bytes)?;
            (!map.is_empty()).then_some(Value::Object(map))
        }
        (Kind::MapStringString | Kind::MapStringBytes, WireValue::Bytes(bytes)) => {
            Some(decode_map_entry(kind, bytes)?)
        }
        _ => {
            return Err(ProtobufError::Malformed(
                "a field has an unexpected wire type".to_string(),
            ));
        }
    };
    Ok(decoded)
}

fn decode_map_entry(kind: Kind, bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut key = String::new();
    let mut entry = Value::String(String::new());
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.next_field()? {
        match (number, value) {
            (1, WireValue::Bytes(text)) => key = utf8(text)?,
            (2, WireValue::Bytes(data)) => {
                entry = match kind {
                    Kind::MapStringBytes => {
                        Value::String(base64::engine::general_purpose::STANDARD.encode(data))
                    }
                    _ => Value::String(utf8(data)?),
                };
            }
            _ => {}
        }
    }
    Ok(Value::Array(vec![Value::String(key), entry]))
}

fn decode_time(bytes: &[u8]) -> Result<Option<Value>, ProtobufError> {
    let mut seconds = 0i64;
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.next_field()? {
        if let (1, WireValue::Varint(v)) = (number, value) {
            seconds = i64::try_from(v).unwrap_or_default();
        }
    }
    Ok((seconds != 0).then(|| Value::String(crate::object::format_rfc3339(seconds))))
}

fn utf8(bytes: &[u8]) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ProtobufError::Malformed("a string field is not UTF-8".to_string()))
}
