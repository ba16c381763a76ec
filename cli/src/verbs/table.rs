//! Printing server-side `Table` responses the way kubectl does.

use serde_json::Value;

/// The Accept header that requests a Table from the apiserver, as kubectl sends it.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// Options that change which columns are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Columns {
    /// Include priority-1 columns (`-o wide`).
    pub wide: bool,
    /// Prefix each row with its namespace (`-A`).
    pub namespace: bool,
    /// Print the header line.
    pub header: bool,
}

/// Formats a Table's rows as aligned text lines.
pub fn render(table: &Value, columns: Columns) -> Vec<String> {
    let definitions = table["columnDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shown: Vec<usize> = definitions
        .iter()
        .enumerate()
        .filter(|(_, column)| columns.wide || column["priority"].as_i64().unwrap_or(0) == 0)
        .map(|(index, _)| index)
        .collect();
    let mut lines: Vec<Vec<String>> = Vec::new();
    if columns.header {
        let mut header: Vec<String> = shown
            .iter()
            .map(|&index| {
                definitions[index]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_uppercase()
            })
            .collect();
        if columns.namespace {
            header.insert(0, "NAMESPACE".to_string());
        }
        lines.push(header);
    }
    for row in table["rows"].as_array().into_iter().flatten() {
        let cells = row["cells"].as_array().cloned().unwrap_or_default();
        let mut line: Vec<String> = shown
            .iter()
            .map(|&index| cell_text(cells.get(index).unwrap_or(&Value::Null)))
            .collect();
        if columns.namespace {
            let namespace = row["object"]["metadata"]["namespace"]
                .as_str()
                .unwrap_or("");
            line.insert(0, namespace.to_string());
        }
        lines.push(line);
    }
    align_rows(&lines)
}

fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => "<none>".to_string(),
        Value::String(text) if text.is_empty() => "<none>".to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Pads every column to its widest cell, with three spaces between columns.
pub fn align_rows(lines: &[Vec<String>]) -> Vec<String> {
    let width = lines.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; width];
    for line in lines {
        for (index, cell) in line.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    lines
        .iter()
        .map(|line| {
            let mut text = String::new();
            for (index, cell) in line.iter().enumerate() {
                text.push_str(cell);
                if index + 1 < line.len() {
                    let padding = widths[index] - cell.chars().count() + 3;
                    text.push_str(&" ".repeat(padding));
                }
            }
            text
        })
        .collect()
}

/// Formats the time from `then` to `now` like kubectl's AGE column: `45s`, `3m`, `2h5m`, `4d`.
pub fn age(then: k8s_openapi::jiff::Timestamp, now: k8s_openapi::jiff::Timestamp) -> String {
    let seconds = now.as_second().saturating_sub(then.as_second()).max(0);
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        format!("{minutes}m{}s", seconds % 60)
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        format!("{hours}h{}m", minutes % 60)
    } else if days < 2 {
        format!("{hours}h")
    } else {
        format!("{days}d")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_aligns_and_hides_wide_columns() {
        let table = serde_json::json!({
            "columnDefinitions": [
                {"name": "Name", "priority": 0},
                {"name": "Ready", "priority": 0},
                {"name": "IP", "priority": 1}
            ],
            "rows": [
                {"cells": ["web-1", "1/1", "10.0.0.2"], "object": {"metadata": {"namespace": "default"}}},
                {"cells": ["db", "0/1", null], "object": {"metadata": {"namespace": "prod"}}}
            ]
        });
        let narrow = render(
            &table,
            Columns {
                header: true,
                ..Default::default()
            },
        );
        assert_eq!(narrow, ["NAME    READY", "web-1   1/1", "db      0/1"]);

        let wide = render(
            &table,
            Columns {
                header: true,
                wide: true,
                namespace: true,
            },
        );
        assert_eq!(wide[0], "NAMESPACE   NAME    READY   IP");
        assert_eq!(wide[2], "prod        db      0/1     <none>");
    }
}
