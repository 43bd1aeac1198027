//! Checking the promise "read models always equal a rebuild from the log": rebuild into
//! `parley_rebuild` (without swapping) and compare every table row for row, and recount every
//! unread counter from the messages. Used by `parley projections verify`, the tests and the
//! fault-injection driver.

use std::collections::BTreeMap;

use sqlx::PgPool;

use super::rebuild;
use super::schema::{REBUILD_SCHEMA, SCHEMA, quote_identifier};
use crate::event_log::EventLog;

/// Every read-model table and the key that orders its rows.
pub const TABLES: &[(&str, &str)] = &[
    ("users", "user_id"),
    ("conversations", "conversation_id"),
    ("participants", "conversation_id, user_id"),
    ("messages", "message_id"),
    ("reactions", "message_id, user_id, emoji"),
    ("message_attachments", "attachment_id, message_id"),
    ("projector_checkpoints", "projection, partition"),
    ("projection_partitions", "projection"),
    ("dead_letters", "projection, seq"),
];

/// Every row of every read-model table in `schema`, as JSON text in key order. Only the
/// operational `dead_letters.recorded_at` is left out.
pub async fn snapshot(db: &PgPool, schema: &str) -> Result<BTreeMap<&'static str, Vec<String>>, sqlx::Error> {
    let mut tables = BTreeMap::new();
    for (table, key) in TABLES {
        let sql = format!(
            "SELECT (to_jsonb(t) - 'recorded_at')::text FROM {}.{table} t ORDER BY {key}",
            quote_identifier(schema)
        );
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(db).await?;
        tables.insert(*table, rows);
    }
    Ok(tables)
}

/// Where two snapshots differ: the first differing row (or the row counts) of each table.
pub fn differences(
    left: &BTreeMap<&'static str, Vec<String>>,
    right: &BTreeMap<&'static str, Vec<String>>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (table, rows) in left {
        let other = right.get(table).map(Vec::as_slice).unwrap_or_default();
        if rows.len() != other.len() {
            found.push(format!("{table}: {} rows, rebuilt {}", rows.len(), other.len()));
            continue;
        }
        if let Some((a, b)) = rows.iter().zip(other).find(|(a, b)| a != b) {
            found.push(format!("{table}: live {a} but rebuilt {b}"));
        }
    }
    found
}

/// Rebuilds into `parley_rebuild` and lists every difference from the live read models.
pub async fn compare_with_rebuild(
    log: &EventLog,
    db: &PgPool,
    database_url: &str,
) -> anyhow::Result<Vec<String>> {
    rebuild::rebuild(log, database_url, false, |_, _| {}).await?;
    let live = snapshot(db, SCHEMA).await?;
    let rebuilt = snapshot(db, REBUILD_SCHEMA).await?;
    Ok(differences(&live, &rebuilt))
}

/// Participants whose stored unread count differs from a recount of the messages:
/// `(conversation, user, stored, recounted)`.
pub async fn unread_mismatches(db: &PgPool) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT conversation_id::text, user_id, stored, recount FROM (
             SELECT p.conversation_id, p.user_id, p.unread_count::int8 AS stored,
                    CASE WHEN p.left_seq IS NOT NULL THEN 0 ELSE (
                        SELECT count(*) FROM parley.messages m
                        WHERE m.conversation_id = p.conversation_id AND m.seq > p.last_read_seq
                          AND m.seq > p.joined_seq AND NOT m.deleted
                          AND m.sender_id IS DISTINCT FROM p.user_id) END AS recount
             FROM parley.participants p) counts
         WHERE stored <> recount ORDER BY 1, 2",
    )
    .fetch_all(db)
    .await
}
