//! `/api/ws` (and `/api/ws/{user_id}`): the WebSocket handshake (Origin allowlist, then a
//! bearer header, `?access_token=` or a single-use `?ticket=`), `POST /api/ws/ticket`, and
//! what each client frame does. The socket itself is `live::session`'s. Query strings carry
//! credentials here, so nothing in this file logs one.

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{Authenticated, bearer_token};
use super::error::Problem;
use super::extract::{AppPath, AppQuery};
use super::messages::{SendMessage, submit};
use super::support::{access, visible_in};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::commands::CommandError;
use crate::config::LiveConfig;
use crate::domain::{ClientMsgId, ConversationCommand, ConversationId, MessageId, UserId};
use crate::live::client_frames::{self as frames, ClientFrame};
use crate::live::frames::Signal;
use crate::live::session::{self, Handler};
use crate::queries::messages;

/// Read and write buffer of one WebSocket, in bytes.
const SOCKET_BUFFER: usize = 4096;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsParams {
    /// A JWT, for clients that cannot send an Authorization header (prefer a ticket).
    pub access_token: Option<String>,
    /// A single-use ticket from `POST /api/ws/ticket`.
    pub ticket: Option<String>,
    /// Resume: first send every event of the caller's conversations after this sequence.
    pub since: Option<u64>,
}

/// Browsers send `Origin` on a WebSocket request; other clients do not. Same-origin pages and
/// configured origins may connect; any other page may not.
fn check_origin(config: &LiveConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let allowed = config.ws_allowed_origins.iter().map(|o| o.trim().trim_end_matches('/'));
    let listed = allowed.filter(|o| !o.is_empty()).any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_origin = origin.split_once("://").is_some_and(|(_, authority)| Some(authority) == host);
    if listed || same_origin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this Origin may not open a WebSocket here".into()))
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &WsParams,
) -> Result<Principal, ApiError> {
    let verify =
        |token: &str| state.auth.verify(token).map_err(|refusal| ApiError::Unauthorized(refusal.to_string()));
    if headers.contains_key(header::AUTHORIZATION) {
        return verify(bearer_token(headers)?);
    }
    if let Some(token) = &params.access_token {
        return verify(token);
    }
    if let Some(ticket) = &params.ticket {
        return match state.live.tickets.redeem(ticket).await {
            Ok(Some(principal)) => Ok(principal),
            Ok(None) => Err(ApiError::Unauthorized("ticket unknown, expired or already used".into())),
            Err(e) => Err(ApiError::Unavailable { what: "NATS", cause: e.to_string() }),
        };
    }
    Err(ApiError::Unauthorized(
        "missing credentials: send Authorization: Bearer <JWT>, ?ticket= or ?access_token=".into(),
    ))
}

async fn handshake(
    state: AppState,
    headers: HeaderMap,
    params: WsParams,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    path_user: Option<String>,
) -> Result<Response, ApiError> {
    check_origin(&state.live.config, &headers)?;
    let principal = authenticate(&state, &headers, &params).await?;
    state.limits.check_user(&principal)?;
    if let Some(user) = path_user
        && UserId::parse(&user).ok().as_ref() != Some(&principal.user_id)
    {
        return Err(ApiError::Forbidden("the path's user_id must be the token's subject".into()));
    }
    let upgrade = upgrade.map_err(|_| {
        ApiError::BadRequest("this endpoint speaks WebSocket: send a GET with Upgrade: websocket".into())
    })?;
    if let Some(since) = params.since {
        let tip =
            state.log.last_seq().await.map_err(|e| ApiError::Unavailable { what: "NATS", cause: e.0 })?;
        if since > tip {
            return Err(ApiError::invalid("since", format!("is beyond the end of the event log ({tip})")));
        }
    }
    let limit = state.live.config.ws_max_message_bytes;
    let live = state.live.clone();
    let since = params.since;
    // Taken before the upgrade, so racing handshakes cannot exceed the cap.
    let slot = state.sessions.reserve(&principal.user_id);
    let cap = state.sessions.max();
    // Small buffers: an idle session must cost little (tungstenite reserves its read buffer
    // up front, 128 KiB by default); frames are small and writes are flushed in batches.
    Ok(upgrade
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            match slot {
                Some(slot) => {
                    session::run(socket, live, principal, since, Frames { state }).await;
                    drop(slot);
                }
                None => refuse(socket, cap).await,
            }
        }))
}

/// Closes a session the user may not open: they already hold `cap` sessions here. Browsers
/// cannot read why a handshake failed, but they can read a close code and reason.
async fn refuse(mut socket: WebSocket, cap: usize) {
    metrics::counter!("parley_ws_sessions_refused_total").increment(1);
    let reason = format!("too many sessions: at most {cap} per user");
    let close = CloseFrame { code: session::close_code::POLICY, reason: reason.into() };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), socket.send(Message::Close(Some(close))))
        .await;
}

#[utoipa::path(get, path = "/api/ws", tag = "live", params(WsParams),
    responses((status = 101, description = "switched to the WebSocket protocol (docs/websocket.md)"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppQuery(params): AppQuery<WsParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    handshake(state, headers, params, upgrade, None).await
}

#[utoipa::path(get, path = "/api/ws/{user_id}", tag = "live",
    params(("user_id" = String, Path, description = "must be the token's subject"), WsParams),
    responses((status = 101, description = "switched to the WebSocket protocol (docs/websocket.md)"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn connect_as(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppPath(user): AppPath<String>,
    AppQuery(params): AppQuery<WsParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    handshake(state, headers, params, upgrade, Some(user)).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// Pass as `/api/ws?ticket=...` once, within `expires_in` seconds.
    pub ticket: String,
    pub expires_in: u64,
}

#[utoipa::path(post, path = "/api/ws/ticket", tag = "live",
    responses((status = 200, body = Ticket), (status = 401, body = Problem), (status = 503, body = Problem)))]
pub async fn ticket(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Ticket>, ApiError> {
    let tickets = &state.live.tickets;
    let ticket = tickets
        .issue(&caller)
        .await
        .map_err(|e| ApiError::Unavailable { what: "NATS", cause: e.to_string() })?;
    Ok(Json(Ticket { ticket, expires_in: tickets.ttl().as_secs() }))
}

/// What client frames do: the same commands and checks as the REST endpoints.
struct Frames {
    state: AppState,
}

fn error(error: ApiError, client_msg_id: Option<&str>) -> Utf8Bytes {
    let code = match error.status_code() {
        StatusCode::BAD_REQUEST => "invalid",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "internal",
    };
    if let ApiError::Internal(cause) = &error {
        tracing::error!(error = format!("{cause:#}"), "internal error answering a WebSocket frame");
    }
    Signal::Error { code, message: &error.problem().detail, client_msg_id }.encode()
}

impl Frames {
    async fn send(&self, caller: &Principal, body: SendMessage) -> Result<Utf8Bytes, ApiError> {
        let client_msg_id = body.client_msg_id.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default();
        let sent = submit(&self.state, caller, body).await?;
        let message = match sent.view() {
            Some(view) => view,
            // A repeat: the original, once the read models have it.
            None if visible_in(&self.state, &sent.conversation, sent.outcome.visible_at()).await => {
                messages::by_id(&self.state.db, &sent.id).await?.ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!("message {} visible but not found", sent.id))
                })?
            }
            None => {
                return Err(ApiError::Unavailable {
                    what: "PostgreSQL",
                    cause: "original not visible yet".into(),
                });
            }
        };
        Ok(Signal::Ack { client_msg_id: &client_msg_id, message: &message }.encode())
    }

    async fn command(
        &self,
        caller: &Principal,
        id: ConversationId,
        command: ConversationCommand,
    ) -> Result<(), ApiError> {
        self.state
            .commands
            .execute(&caller.actor(), id, &command, None)
            .await
            .map_err(|e: CommandError| e.into())
            .map(drop)
    }

    async fn read(
        &self,
        caller: &Principal,
        conversation: Option<Uuid>,
        up_to_seq: Option<u64>,
        message: Option<Uuid>,
    ) -> Result<(), ApiError> {
        let (conversation, up_to_seq) = match (conversation, message) {
            (_, Some(message)) => {
                let not_found = || ApiError::NotFound("message not found".into());
                let view =
                    messages::by_id(&self.state.db, &MessageId(message)).await?.ok_or_else(not_found)?;
                let conversation = ConversationId(view.conversation_id);
                access(&self.state, caller, &conversation).await.map_err(|_| not_found())?;
                (conversation, Some(view.seq))
            }
            (Some(conversation), None) => (ConversationId(conversation), up_to_seq),
            (None, None) => {
                return Err(ApiError::invalid("conversation_id", "name a conversation_id or a message_id"));
            }
        };
        let command = ConversationCommand::MarkRead { reader_id: caller.user_id.clone(), up_to_seq };
        self.command(caller, conversation, command).await
    }
}

impl Handler for Frames {
    async fn handle(&self, caller: &Principal, frame: ClientFrame) -> Option<Utf8Bytes> {
        // Every frame but a ping is a request like any other and counts against the caller's
        // rate; a refused send names its client_msg_id so the client knows which to retry.
        if !matches!(frame, ClientFrame::Ping(_))
            && let Err(limited) = self.state.limits.check_user(caller)
        {
            let client_msg_id = match &frame {
                ClientFrame::MessageSend(send) => Some(send.client_msg_id.as_str()),
                _ => None,
            };
            return Some(error(limited, client_msg_id));
        }
        match frame {
            ClientFrame::MessageSend(frames::MessageSend {
                conversation_id,
                content,
                client_msg_id,
                reply_to,
                kind,
                attachment_ids,
            }) => {
                let client_id = match ClientMsgId::parse(&client_msg_id) {
                    Ok(id) => id,
                    Err(e) => {
                        return Some(error(
                            ApiError::Invalid(vec![e.for_field("client_msg_id")]),
                            Some(&client_msg_id),
                        ));
                    }
                };
                let kind = match kind.as_deref() {
                    None | Some("text") => None,
                    Some("file") => Some(super::messages::KindParam::File),
                    Some(_) => {
                        return Some(error(
                            ApiError::invalid("kind", "must be text or file"),
                            Some(&client_msg_id),
                        ));
                    }
                };
                let body = SendMessage {
                    conversation_id,
                    content,
                    kind,
                    reply_to,
                    attachment_ids,
                    client_msg_id: Some(client_id),
                    sender_id: None,
                };
                Some(self.send(caller, body).await.unwrap_or_else(|e| error(e, Some(&client_msg_id))))
            }
            ClientFrame::Typing(frames::Typing { conversation_id, is_typing }) => {
                super::typing::publish(&self.state, caller, ConversationId(conversation_id), is_typing)
                    .await
                    .err()
                    .map(|e| error(e, None))
            }
            ClientFrame::Read(frames::Read { conversation_id, up_to_seq, message_id }) => {
                self.read(caller, conversation_id, up_to_seq, message_id).await.err().map(|e| error(e, None))
            }
            ClientFrame::Delivered(frames::Delivered { conversation_id, up_to_seq }) => {
                let command =
                    ConversationCommand::MarkDelivered { recipient_id: caller.user_id.clone(), up_to_seq };
                self.command(caller, ConversationId(conversation_id), command)
                    .await
                    .err()
                    .map(|e| error(e, None))
            }
            ClientFrame::Ping(_) => Some(Signal::Pong { server_time: Utc::now() }.encode()),
        }
    }
}
