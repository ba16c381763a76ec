//! Table layout of the SQLite backend.
//!
//! `log` is the revision log: one row per write, tombstones included, so a
//! range can be served as of any revision that is not yet compacted. `current`
//! mirrors the latest live value of each key, which keeps latest-revision reads
//! from scanning the log. `meta` records the current and compacted revisions.

use rusqlite::Connection;

use crate::Revision;

pub(crate) const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS current (
    key TEXT PRIMARY KEY,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
";

/// Applies the connection settings every connection needs. `synchronous=FULL`
/// in WAL mode syncs the log on every commit, so a committed write survives a
/// crash of the process and of the machine.
pub(crate) fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "OFF")?;
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

/// Reads a revision counter (`revision` or `compacted`) from `meta`.
pub(crate) fn read_meta(connection: &Connection, name: &str) -> rusqlite::Result<Revision> {
    connection.query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
        row.get(0)
    })
}

/// Returns the smallest string greater than every string starting with
/// `prefix`, or `None` when the prefix is empty (no upper bound).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    let mut end: Vec<char> = prefix.chars().collect();
    while let Some(last) = end.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            end.push(next);
            return Some(end.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_last_char() {
        assert_eq!(
            prefix_end("/registry/pods/").as_deref(),
            Some("/registry/pods0")
        );
        assert_eq!(prefix_end("a").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
    }
}
