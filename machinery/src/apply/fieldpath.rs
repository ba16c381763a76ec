//! Field paths and field sets in the shape of Kubernetes' structured merge
//! diff, with their `FieldsV1` encoding (`f:name`, `k:{...}`, `v:...`, `i:N`
//! and `.` for an element that is owned itself as well as through children).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A named field of a struct or map.
    Field(String),
    /// An item of an associative list, identified by its key fields as
    /// compact JSON with the field names sorted, e.g. `{"name":"c"}`.
    Key(String),
    /// An item of a set list, as compact JSON, e.g. `"finalizer.example"`.
    Value(String),
    /// An item of a list that has no identity but its position.
    Index(usize),
}

/// A path from the object's root, e.g. `.spec.template.spec.containers[name="c"].image`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<PathElement>);

impl FieldPath {
    /// Returns this path extended by `element`.
    pub fn child(&self, element: PathElement) -> FieldPath {
        let mut elements = self.0.clone();
        elements.push(element);
        FieldPath(elements)
    }

    /// Returns whether `self` equals `other` or lies below it.
    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            match element {
                PathElement::Field(name) => write!(f, ".{name}")?,
                PathElement::Key(key) => write!(f, "[{}]", describe_key(key))?,
                PathElement::Value(value) => write!(f, "[={value}]")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Formats a key as Kubernetes prints it: `name="c"` or `containerPort=80,protocol="TCP"`.
fn describe_key(key: &str) -> String {
    match serde_json::from_str::<Map<String, Value>>(key) {
        Ok(fields) => fields
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(","),
        Err(_) => key.to_string(),
    }
}

/// Returns the canonical key of an associative list item: its key fields
/// as compact JSON with sorted names. Absent key fields are left out, except
/// `protocol`, which Kubernetes defaults to `TCP`.
pub fn item_key(item: &Value, keys: &[&str]) -> String {
    let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
    for key in keys {
        match item.get(*key) {
            Some(value) => {
                fields.insert(key, value.clone());
            }
            None if *key == "protocol" => {
                fields.insert(key, Value::String("TCP".to_string()));
            }
            None => {}
        }
    }
    serde_json::to_string(&fields).unwrap_or_default()
}

/// A set of owned field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<FieldPath>);

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, path: &FieldPath) -> bool {
        self.0.contains(path)
    }

    /// Returns whether the set contains `path` or any path below it.
    pub fn covers(&self, path: &FieldPath) -> bool {
        self.0
            .range(path.clone()..)
            .next()
            .is_some_and(|first| first.starts_with(path))
    }

    /// Decodes a `FieldsV1` object. Unknown prefixes are skipped.
    pub fn from_fields_v1(fields: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        decode_node(fields, &FieldPath::default(), &mut set);
        set
    }

    /// Encodes the set as a `FieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Node::default();
        for path in &self.0 {
            let mut node = &mut root;
            for element in &path.0 {
                node = node.children.entry(encode_element(element)).or_default();
            }
            node.member = true;
        }
        root.to_value()
    }
}

#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn to_value(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (name, child) in &self.children {
            map.insert(name.clone(), child.to_value());
        }
        Value::Object(map)
    }
}

fn encode_element(element: &PathElement) -> String {
    match element {
        PathElement::Field(name) => format!("f:{name}"),
        PathElement::Key(key) => format!("k:{key}"),
        PathElement::Value(value) => format!("v:{value}"),
        PathElement::Index(index) => format!("i:{index}"),
    }
}

fn decode_element(encoded: &str) -> Option<PathElement> {
    let (prefix, rest) = encoded.split_at_checked(2)?;
    match prefix {
        "f:" => Some(PathElement::Field(rest.to_string())),
        "k:" => {
            let key: BTreeMap<String, Value> = serde_json::from_str(rest).ok()?;
            Some(PathElement::Key(serde_json::to_string(&key).ok()?))
        }
        "v:" => {
            let value: Value = serde_json::from_str(rest).ok()?;
            Some(PathElement::Value(serde_json::to_string(&value).ok()?))
        }
        "i:" => rest.parse().ok().map(PathElement::Index),
        _ => None,
    }
}

fn decode_node(node: &Value, path: &FieldPath, set: &mut FieldSet) {
    let Value::Object(children) = node else {
        return;
    };
    if children.is_empty() && !path.0.is_empty() {
        set.0.insert(path.clone());
        return;
    }
    for (name, child) in children {
        if name == "." {
            set.0.insert(path.clone());
            continue;
        }
        if let Some(element) = decode_element(name) {
            decode_node(child, &path.child(element), set);
        }
    }
}
