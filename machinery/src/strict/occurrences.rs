//! Every object key of a JSON document in document order, with its field
//! path and whether it repeats a key of the same object. A `Value` cannot
//! show duplicates, so this walks the parser's events directly.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One key as it appears in the document.
pub(super) struct Occurrence {
    /// Dotted path with list indexes, e.g. `spec.containers[0].name`.
    pub path: String,
    /// Whether an earlier key of the same object had the same name.
    pub duplicate: bool,
}

pub(super) fn key_occurrences(body: &[u8]) -> Result<Vec<Occurrence>, serde_json::Error> {
    let mut occurrences = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Walk {
        path: String::new(),
        occurrences: &mut occurrences,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(occurrences)
}

struct Walk<'a> {
    path: String,
    occurrences: &'a mut Vec<Occurrence>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let duplicate = !seen.insert(key);
            self.occurrences.push(Occurrence {
                path: path.clone(),
                duplicate,
            });
            map.next_value_seed(Walk {
                path,
                occurrences: &mut *self.occurrences,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let seed = Walk {
                path: format!("{}[{index}]", self.path),
                occurrences: &mut *self.occurrences,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
