//! Reading manifests: files, directories or standard input, each possibly
//! holding several YAML or JSON documents.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

/// One object read from a manifest, with where it came from.
#[derive(Clone, Debug)]
pub struct Document {
    pub object: Value,
    /// The file name, or `-` for standard input.
    pub source: String,
    /// The document's position in its file, counting from 1.
    pub index: usize,
}

impl Document {
    /// Describes the document for error messages: `file.yaml (document 2)`.
    pub fn location(&self) -> String {
        format!("{} (document {})", self.source, self.index)
    }
}

/// Reads every object from `paths`; a directory contributes its `.yaml`,
/// `.yml` and `.json` files in name order, and `-` reads standard input.
pub fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    let mut documents = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("failed to read standard input")?;
            documents.extend(parse(&text, "-")?);
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                documents.extend(read_file(&file)?);
            }
        } else {
            documents.extend(read_file(path)?);
        }
    }
    Ok(documents)
}

fn manifest_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?
    {
        let path = entry?.path();
        let extension = path.extension().and_then(|extension| extension.to_str());
        if matches!(extension, Some("yaml" | "yml" | "json")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_file(path: &Path) -> anyhow::Result<Vec<Document>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "the path \"{}\" does not exist or cannot be read",
            path.display()
        )
    })?;
    parse(&text, &path.display().to_string())
}

/// Splits `text` into its YAML documents, skipping empty ones and expanding
/// `kind: List` objects into their items.
pub fn parse(text: &str, source: &str) -> anyhow::Result<Vec<Document>> {
    let mut documents = Vec::new();
    for (position, deserializer) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let index = position + 1;
        let value = Value::deserialize(deserializer)
            .with_context(|| format!("error parsing {source} (document {index}): invalid YAML"))?;
        match value {
            Value::Null => continue,
            Value::Object(_) => {}
            _ => anyhow::bail!("error parsing {source} (document {index}): expected an object"),
        }
        if value["kind"] == "List" {
            for item in value["items"].as_array().cloned().unwrap_or_default() {
                documents.push(Document {
                    object: item,
                    source: source.to_string(),
                    index,
                });
            }
            continue;
        }
        for field in ["apiVersion", "kind"] {
            if value[field].as_str().is_none_or(str::is_empty) {
                anyhow::bail!("error validating {source} (document {index}): {field} not set");
            }
        }
        documents.push(Document {
            object: value,
            source: source.to_string(),
            index,
        });
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parse_splits_documents_and_lists() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n";
        let documents = parse(text, "f.yaml").unwrap();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[0].object["kind"], "ConfigMap");
        assert_eq!(documents[1].object["kind"], "Secret");
        assert_eq!(documents[1].location(), "f.yaml (document 3)");
    }

    #[test]
    fn parse_rejects_missing_kind() {
        let error = parse("apiVersion: v1\nmetadata: {name: a}\n", "f.yaml").unwrap_err();
        assert_eq!(
            error.to_string(),
            "error validating f.yaml (document 1): kind not set"
        );
    }
}
