//! The `pod-template-hash` of a Deployment's pod template.
//!
//! Kubernetes hashes a pod template with FNV-32a, feeds in the Deployment's
//! collision count, and encodes the decimal hash with an alphabet free of
//! vowels so the suffix never spells words. Kubernetes hashes a Go debug
//! dump of the struct; this module hashes its JSON form instead.
// NOTE: hashes therefore differ from the ones kube-controller-manager would
// compute for the same template, so ReplicaSets created by a real
// kube-controller-manager are found by template comparison, not by name.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// Label and selector key that ties pods and ReplicaSets to one template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Characters of `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString`.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// Computes the pod-template-hash of `template` with `collision_count`.
pub fn compute(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serializing a k8s-openapi struct cannot fail: it has no maps with
    // non-string keys and no custom serializers that error.
    let encoded = serde_json::to_vec(template).unwrap_or_default();
    let mut hash = fnv32a(FNV_OFFSET_BASIS, &encoded);
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hash = fnv32a(hash, &bytes);
    }
    safe_encode(&hash.to_string())
}

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

fn safe_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| char::from(SAFE_ALPHABET[usize::from(byte) % SAFE_ALPHABET.len()]))
        .collect()
}

/// Returns whether two templates are equal apart from the pod-template-hash
/// label, treating missing and empty fields alike.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(labels) = value
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    prune_empty(&mut value);
    value
}

/// Removes nulls, empty objects and empty arrays, recursively.
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune_empty(child);
            }
            map.retain(|_, child| !is_empty(child));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".to_string(),
                    image: Some(image.to_string()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_reference_vectors() {
        assert_eq!(fnv32a(FNV_OFFSET_BASIS, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV_OFFSET_BASIS, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV_OFFSET_BASIS, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn safe_encoding_uses_the_kubernetes_alphabet() {
        // '0' is byte 48, and 48 % 27 = 21, the 22nd character.
        assert_eq!(safe_encode("0"), "4");
        assert_eq!(safe_encode("19"), "5f");
    }

    #[test]
    fn hash_is_stable_and_template_sensitive() {
        let a = compute(&template("img:1"), None);
        assert_eq!(a, compute(&template("img:1"), None));
        assert_ne!(a, compute(&template("img:2"), None));
        assert!(a.chars().all(|c| SAFE_ALPHABET.contains(&(c as u8))));
    }

    #[test]
    fn collision_count_changes_the_hash() {
        let base = compute(&template("img:1"), None);
        assert_ne!(base, compute(&template("img:1"), Some(1)));
        assert_ne!(
            compute(&template("img:1"), Some(1)),
            compute(&template("img:1"), Some(2))
        );
    }

    #[test]
    fn equality_ignores_the_hash_label_and_empty_fields() {
        let plain = template("img:1");
        let mut labeled = template("img:1");
        if let Some(labels) = labeled.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.insert(POD_TEMPLATE_HASH_LABEL.to_string(), "abc".to_string());
        }
        if let Some(metadata) = labeled.metadata.as_mut() {
            metadata.annotations = Some(Default::default());
        }
        assert!(equal_ignore_hash(&plain, &labeled));
        assert!(!equal_ignore_hash(&plain, &template("img:2")));
    }
}
