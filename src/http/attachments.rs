//! `/api/attachments`: upload a file (multipart, streamed into the object store) and download
//! one (streamed out) through a message that references it. Also turns the `attachment_ids`
//! of a send into the references its event records.

use std::collections::HashSet;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::TryStreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use tokio_util::io::{ReaderStream, StreamReader};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Authenticated;
use super::error::Problem;
use super::extract::AppPath;
use super::{ApiError, AppState};
use crate::attachments::{AttachmentError, sniff};
use crate::auth::Principal;
use crate::domain::conversation::MAX_ATTACHMENTS;
use crate::domain::{AttachmentId, AttachmentRef, Role, UserId};
use crate::queries::attachments::downloadable;

/// Room for the multipart framing around the file (boundaries, part headers).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// An upload, as `POST /api/attachments` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedAttachment {
    pub id: Uuid,
    /// The file name sent with the upload, without any path.
    pub name: String,
    /// Detected from the file's bytes.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// A file's bytes, as OpenAPI describes a download.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code, reason = "describes the response body for OpenAPI only")]
pub struct FileBytes(Vec<u8>);

/// The multipart form of an upload.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the request body for OpenAPI only")]
pub struct UploadForm {
    /// The file. Its content type is detected from its bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

impl From<AttachmentError> for ApiError {
    fn from(error: AttachmentError) -> Self {
        match error {
            AttachmentError::NotFound => ApiError::NotFound("attachment not found".into()),
            AttachmentError::Empty => ApiError::invalid("file", "the file is empty"),
            AttachmentError::TooLarge { limit } => {
                ApiError::PayloadTooLarge(format!("attachments may be at most {limit} bytes"))
            }
            AttachmentError::Unsupported(kind) => {
                ApiError::UnsupportedMediaType(format!("files of type {kind} are not accepted"))
            }
            AttachmentError::Interrupted(why) => {
                ApiError::BadRequest(format!("the upload was interrupted: {why}"))
            }
            AttachmentError::Unavailable(cause) => ApiError::Unavailable { what: "NATS", cause },
        }
    }
}

#[utoipa::path(post, path = "/api/attachments", tag = "attachments",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = UploadedAttachment, description = "stored; reference it in a message's attachment_ids"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 413, body = Problem, description = "larger than --max-attachment-bytes"),
              (status = 415, body = Problem, description = "a content type outside --attachment-types"),
              (status = 503, body = Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    if caller.role == Role::Analyst {
        return Err(ApiError::Forbidden("analysts may read the event log but not upload".into()));
    }
    let limit = state.attachments.max_bytes();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(MULTIPART_OVERHEAD)) {
        // Refused before reading a byte; uploads without a length are metered as they stream.
        return Err(AttachmentError::TooLarge { limit }.into());
    }
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::UnsupportedMediaType(format!(
            "send the file as multipart/form-data: {}",
            rejection.body_text()
        ))
    })?;
    let field = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("the multipart body is malformed: {}", e.body_text())))?
        .ok_or_else(|| ApiError::invalid("file", "send the file in a multipart field named file"))?;
    if field.name() != Some("file") {
        return Err(ApiError::invalid(
            "file",
            "send the file in a multipart field named file (and nothing else)",
        ));
    }
    let name = sniff::file_name(field.file_name());
    let body = StreamReader::new(field.map_err(std::io::Error::other));
    let attachment = state.attachments.upload(&caller.user_id, &name, body).await?;
    let answer = UploadedAttachment {
        id: attachment.id.0,
        name: attachment.name,
        content_type: attachment.content_type,
        size: attachment.size,
        sha256: attachment.sha256,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[utoipa::path(get, path = "/api/attachments/{id}", tag = "attachments",
    params(("id" = Uuid, Path, description = "attachment id")),
    responses((status = 200, description = "the file's bytes, with its Content-Type, Content-Length and Content-Disposition",
               content_type = "application/octet-stream", body = FileBytes),
              (status = 401, body = Problem),
              (status = 404, body = Problem, description = "unknown, or not referenced by a message in a conversation of the caller"),
              (status = 503, body = Problem)))]
pub async fn download(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, ApiError> {
    let id = AttachmentId(id);
    let any_conversation = caller.role == Role::Service;
    if !downloadable(&state.db, &id, &caller.user_id, any_conversation).await? {
        return Err(AttachmentError::NotFound.into());
    }
    let (attachment, object) = state.attachments.open(id).await?;
    // Text was accepted only as valid UTF-8: say so, rather than leave browsers to guess.
    let content_type = match attachment.content_type.as_str() {
        "text/plain" => HeaderValue::from_static("text/plain; charset=utf-8"),
        other => HeaderValue::from_str(other).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    };
    let disposition = HeaderValue::from_str(&content_disposition(&attachment.name))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("a sanitised file name makes a bad header: {e}")))?;
    let response = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, attachment.size)
        .header(header::CONTENT_DISPOSITION, disposition)
        // Never rendered by the browser as something else, nor run as a page of our origin.
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox")
        .header(header::CACHE_CONTROL, "private, no-store")
        .header(header::ETAG, format!("\"sha256-{}\"", attachment.sha256))
        // A failure mid-stream (NATS gone, a wrong digest at the end) aborts the response, so
        // a client never takes a truncated file for a whole one.
        .body(Body::from_stream(ReaderStream::new(object)))
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(response)
}

/// RFC 5987 `attr-char`: what may stay unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with the name twice (RFC 6266): `filename*` in UTF-8 for clients that read it,
/// and an ASCII `filename` (non-ASCII, quotes and backslashes replaced) for those that do not.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The attachments a send names, as its event records them. Each must be a complete upload of
/// the sender, or of the service sending on their behalf, recent enough to be referenced.
pub(super) async fn references(
    state: &AppState,
    caller: &Principal,
    sender: &UserId,
    ids: &[Uuid],
) -> Result<Vec<AttachmentRef>, ApiError> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(ApiError::invalid("attachment_ids", format!("at most {MAX_ATTACHMENTS} attachments")));
    }
    let mut seen = HashSet::new();
    let mut references = Vec::with_capacity(ids.len());
    let now = Utc::now();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("attachment_ids[{i}]");
        if !seen.insert(id) {
            return Err(ApiError::invalid(&field, "names the same attachment twice"));
        }
        let foreign = || ApiError::invalid(&field, "is not an upload of the sender");
        let attachment = match state.attachments.get(AttachmentId(*id)).await {
            Ok(attachment) => attachment,
            Err(AttachmentError::NotFound) => return Err(foreign()),
            Err(other) => return Err(other.into()),
        };
        let own = &attachment.uploader == sender
            || (caller.role == Role::Service && attachment.uploader == caller.user_id);
        if !own {
            return Err(foreign());
        }
        if !state.attachments.referenceable(&attachment, now) {
            return Err(ApiError::invalid(&field, "the upload has expired; upload the file again"));
        }
        references.push(AttachmentRef {
            id: attachment.id,
            name: attachment.name,
            content_type: attachment.content_type,
            size: attachment.size,
        });
    }
    Ok(references)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_carries_an_ascii_fallback_and_the_utf8_name() {
        assert_eq!(content_disposition("cv.pdf"), "attachment; filename=\"cv.pdf\"; filename*=UTF-8''cv.pdf");
        assert_eq!(
            content_disposition("Zoë \"final\" 100%.pdf"),
            "attachment; filename=\"Zo_ _final_ 100%.pdf\"; filename*=UTF-8''Zo%C3%AB%20%22final%22%20100%25.pdf"
        );
        assert_eq!(
            content_disposition("a\\b;c.txt"),
            "attachment; filename=\"a_b;c.txt\"; filename*=UTF-8''a%5Cb%3Bc.txt"
        );
        assert!(HeaderValue::from_str(&content_disposition("履歴書 👍.pdf")).is_ok());
    }
}
