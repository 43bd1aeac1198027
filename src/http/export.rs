//! `GET /api/conversations/{id}/export`: a conversation's whole history, streamed as NDJSON
//! (one message per line, as the API shows it) or CSV. Rows go from PostgreSQL to the client
//! as they arrive, in bounded chunks, so an export of any length holds little memory.

use std::io;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::IntoParams;
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::{AppPath, AppQuery};
use super::support::access;
use super::{ApiError, AppState};
use crate::domain::ConversationId;
use crate::queries::messages;
use crate::views::MessageView;

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 32 * 1024;
/// Chunks in flight between the query and a slow client.
const IN_FLIGHT: usize = 8;

#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Ndjson,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `ndjson` (default) or `csv`.
    #[param(inline)]
    pub format: Option<Format>,
}

const CSV_HEADER: [&str; 12] = [
    "id",
    "seq",
    "created_at",
    "sender_id",
    "sender_type",
    "kind",
    "content",
    "reply_to",
    "edited_at",
    "deleted",
    "attachments",
    "reactions",
];

#[utoipa::path(get, path = "/api/conversations/{id}/export", tag = "conversations",
    params(("id" = Uuid, Path, description = "conversation id"), ExportParams),
    responses((status = 200, description = "every message, oldest first: one JSON message per line, or CSV with a header row",
               content(("application/x-ndjson"), ("text/csv"))),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 503, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
    AppQuery(params): AppQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let id = ConversationId(id);
    access(&state, &caller, &id).await?;
    let format = params.format.unwrap_or_default();
    let (sender, mut receiver) = mpsc::channel::<io::Result<Bytes>>(IN_FLIGHT);
    tokio::spawn(produce(state.db.clone(), id, format, sender));
    // An error mid-way ends the body abruptly, so a client never takes a cut export for whole.
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)));
    let (content_type, extension) = match format {
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"conversation-{id}.{extension}\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(body)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Reads the history and sends it in chunks until done, a failure, or the client leaving.
async fn produce(
    db: sqlx::PgPool,
    id: ConversationId,
    format: Format,
    sender: mpsc::Sender<io::Result<Bytes>>,
) {
    let mut rows = messages::all(&db, id);
    let mut buffer = Vec::with_capacity(CHUNK * 2);
    if let Format::Csv = format {
        csv_record(&mut buffer, CSV_HEADER.map(String::from));
    }
    while let Some(row) = rows.next().await {
        let message = match row {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "export ended by a database error");
                let _ = sender.send(Err(io::Error::other("the export could not be completed"))).await;
                return;
            }
        };
        match format {
            Format::Ndjson => {
                if serde_json::to_writer(&mut buffer, &message).is_err() {
                    let _ = sender.send(Err(io::Error::other("a message could not be encoded"))).await;
                    return;
                }
                buffer.push(b'\n');
            }
            Format::Csv => csv_record(&mut buffer, csv_row(&message)),
        }
        if buffer.len() >= CHUNK && sender.send(Ok(Bytes::from(std::mem::take(&mut buffer)))).await.is_err() {
            return; // the client went away
        }
    }
    if !buffer.is_empty() {
        let _ = sender.send(Ok(Bytes::from(buffer))).await;
    }
}

fn csv_row(message: &MessageView) -> [String; 12] {
    let time = |at: &chrono::DateTime<chrono::Utc>| crate::event_log::wire::format_time(*at);
    [
        message.id.to_string(),
        message.seq.to_string(),
        time(&message.created_at),
        message.sender_id.clone().unwrap_or_default(),
        message.sender_type.clone(),
        message.kind.clone(),
        message.content.clone(),
        message.reply_to.map(|r| r.to_string()).unwrap_or_default(),
        message.edited_at.as_ref().map(time).unwrap_or_default(),
        message.deleted.to_string(),
        serde_json::to_string(&message.attachments).unwrap_or_default(),
        serde_json::to_string(&message.reactions).unwrap_or_default(),
    ]
}

/// Appends one CSV record (RFC 4180: fields with commas, quotes or line breaks quoted, quotes
/// doubled, CRLF line ends).
fn csv_record(buffer: &mut Vec<u8>, fields: [String; 12]) {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(buffer);
    // Writing into memory cannot fail.
    let _ = writer.write_record(&fields);
    let _ = writer.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_quote_what_needs_quoting() {
        let mut buffer = Vec::new();
        let mut fields = CSV_HEADER.map(String::from);
        fields[6] = "a, \"quoted\"\nline".into();
        csv_record(&mut buffer, fields);
        let line = String::from_utf8(buffer).unwrap();
        assert!(line.contains(",\"a, \"\"quoted\"\"\nline\","), "{line}");
        assert!(line.ends_with("reactions\r\n"), "{line}");
    }
}
