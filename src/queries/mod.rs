//! Reading the read models: the queries behind REST answers, returning the view types of
//! `crate::views`. Nothing here writes; nothing here checks who may see what (the HTTP
//! handlers do, with `conversations::membership`).

pub mod attachments;
pub mod conversations;
pub mod live;
pub mod messages;
pub mod search;
pub mod users;

/// Sequences are stored as BIGINT and are never negative.
pub(crate) fn seq(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}
