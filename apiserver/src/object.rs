//! Helpers on objects held as JSON values: decoding stored bytes, metadata
//! accessors and timestamps.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};
use skiff_store::{KeyValue, Revision};

use crate::registry::Resource;

/// Decodes a stored object and sets `metadata.resourceVersion` to the key's
/// mod revision.
pub fn decode(kv: &KeyValue) -> Result<Value, serde_json::Error> {
    let mut value: Value = serde_json::from_slice(&kv.value)?;
    set_resource_version(&mut value, kv.mod_revision);
    Ok(value)
}

/// Encodes an object for storage, without its resourceVersion (the store
/// tracks that as the mod revision).
pub fn encode(object: &Value) -> Bytes {
    let mut stored = object.clone();
    if let Some(metadata) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&stored).unwrap_or_default())
}

pub fn set_resource_version(object: &mut Value, revision: Revision) {
    metadata_mut(object).insert(
        "resourceVersion".to_string(),
        Value::String(revision.to_string()),
    );
}

/// Returns `metadata` as a mutable map, creating it if needed.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let map = object.as_object_mut().expect("object was just made a map");
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    metadata
        .as_object_mut()
        .expect("metadata was just made a map")
}

pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

pub fn name(object: &Value) -> &str {
    meta_str(object, "name").unwrap_or_default()
}

/// Returns `metadata.resourceVersion` parsed as a revision, `None` if unset
/// and `Err` if it is not a number.
pub fn resource_version(object: &Value) -> Result<Option<Revision>, String> {
    match meta_str(object, "resourceVersion") {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<Revision>()
            .map(Some)
            .map_err(|_| text.to_string()),
    }
}

pub fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(object: &Value) -> bool {
    meta_str(object, "deletionTimestamp").is_some()
}

/// Sets `apiVersion` and `kind` to those of `resource`.
pub fn set_type_meta(object: &mut Value, resource: &Resource) {
    if let Some(map) = object.as_object_mut() {
        map.insert(
            "apiVersion".to_string(),
            Value::String(resource.api_version()),
        );
        map.insert("kind".to_string(), Value::String(resource.kind.to_string()));
    }
}

/// Returns the current time in RFC 3339 with second precision, as Kubernetes
/// writes `metav1.Time`.
pub fn now_rfc3339() -> String {
    format_rfc3339(unix_now())
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date (Howard
/// Hinnant's `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Returns `generateName` followed by five random lower-case alphanumerics.
pub fn generate_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let random = uuid::Uuid::new_v4();
    let suffix: String = random
        .as_bytes()
        .iter()
        .take(5)
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
