//! Read queries of the SQLite backend, each run in one read transaction so it
//! sees a single consistent revision.

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::schema::{prefix_end, read_meta};
use crate::{Event, EventKind, KeyValue, RangeOptions, RangeResult, Result, Revision, StoreError};

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn kv_from_current(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        create_revision: row.get(1)?,
        mod_revision: row.get(2)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
    })
}

/// Reads one key at the latest revision.
pub(crate) fn get(connection: &mut Connection, key: &str) -> Result<Option<KeyValue>> {
    connection
        .query_row(
            "SELECT key, create_revision, mod_revision, value FROM current WHERE key = ?1",
            [key],
            kv_from_current,
        )
        .optional()
        .map_err(backend)
}

/// Reads every key under `prefix` at the requested or latest revision.
pub(crate) fn range(
    connection: &mut Connection,
    prefix: &str,
    options: &RangeOptions,
) -> Result<RangeResult> {
    let transaction = connection.transaction().map_err(backend)?;
    let current = read_meta(&transaction, "revision").map_err(backend)?;
    let compacted = read_meta(&transaction, "compacted").map_err(backend)?;
    let revision = match options.revision {
        None => current,
        Some(requested) if requested > current => {
            return Err(StoreError::FutureRevision { requested, current });
        }
        Some(requested) if requested < compacted => {
            return Err(StoreError::Compacted {
                requested,
                compacted,
            });
        }
        Some(requested) => requested,
    };
    // Keys compare as text; the upper bound excludes everything past the prefix.
    let lower = match &options.start_after {
        Some(after) if after.as_str() >= prefix => after.clone(),
        _ => prefix.to_string(),
    };
    let strict_lower = options
        .start_after
        .as_ref()
        .is_some_and(|after| after.as_str() >= prefix);
    let upper = prefix_end(prefix).unwrap_or_else(|| char::MAX.to_string());
    let fetch = options.limit.map(|limit| limit as i64 + 1).unwrap_or(-1);

    let kvs = if revision == current {
        let sql = format!(
            "SELECT key, create_revision, mod_revision, value FROM current
             WHERE key {} ?1 AND key < ?2 ORDER BY key LIMIT ?3",
            if strict_lower { ">" } else { ">=" }
        );
        let mut statement = transaction.prepare(&sql).map_err(backend)?;
        let rows = statement
            .query_map(params![lower, upper, fetch], kv_from_current)
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?
    } else {
        let sql = format!(
            "SELECT l.key, l.create_revision, l.revision, l.value FROM log l
             JOIN (SELECT key, MAX(revision) AS revision FROM log
                   WHERE key {} ?1 AND key < ?2 AND revision <= ?3 GROUP BY key) m
             ON l.key = m.key AND l.revision = m.revision
             WHERE l.deleted = 0 ORDER BY l.key LIMIT ?4",
            if strict_lower { ">" } else { ">=" }
        );
        let mut statement = transaction.prepare(&sql).map_err(backend)?;
        let rows = statement
            .query_map(params![lower, upper, revision, fetch], kv_from_current)
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?
    };
    let mut kvs = kvs;
    let more = match options.limit {
        Some(limit) if kvs.len() > limit => {
            kvs.truncate(limit);
            true
        }
        _ => false,
    };
    Ok(RangeResult {
        kvs,
        revision,
        more,
    })
}

/// Reads the events under `prefix` with revisions in `(after, until]`, oldest
/// first, each with the key's previous value.
pub(crate) fn history(
    connection: &mut Connection,
    prefix: &str,
    after: Revision,
    until: Revision,
) -> Result<Vec<Event>> {
    let transaction = connection.transaction().map_err(backend)?;
    let compacted = read_meta(&transaction, "compacted").map_err(backend)?;
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after + 1,
            compacted,
        });
    }
    let upper = prefix_end(prefix).unwrap_or_else(|| char::MAX.to_string());
    let mut statement = transaction
        .prepare(
            "SELECT l.key, l.create_revision, l.revision, l.value, l.deleted,
                    p.create_revision, p.revision, p.value, p.deleted
             FROM log l
             LEFT JOIN log p ON p.revision = (
                 SELECT MAX(revision) FROM log WHERE key = l.key AND revision < l.revision)
             WHERE l.revision > ?1 AND l.revision <= ?2 AND l.key >= ?3 AND l.key < ?4
             ORDER BY l.revision",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map(params![after, until, prefix, upper], |row| {
            let key: String = row.get(0)?;
            let kv = KeyValue {
                key: key.clone(),
                create_revision: row.get(1)?,
                mod_revision: row.get(2)?,
                value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
            };
            let deleted: bool = row.get(4)?;
            let prev_deleted: Option<bool> = row.get(8)?;
            let prev = match prev_deleted {
                Some(false) => Some(KeyValue {
                    key,
                    create_revision: row.get(5)?,
                    mod_revision: row.get(6)?,
                    value: Bytes::from(row.get::<_, Vec<u8>>(7)?),
                }),
                _ => None,
            };
            let kind = if deleted {
                EventKind::Delete
            } else {
                EventKind::Put
            };
            Ok(Event { kind, kv, prev })
        })
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}
