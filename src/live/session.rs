//! One WebSocket session: a reader (client frames, pongs, the peer and token deadlines) and a
//! writer (the bounded queue of outgoing frames, pings, the closing frame). What a client
//! frame means is the `Handler`'s business (`http::ws`); catching up is `resume`'s; this file
//! owns the socket, the limits and how a session ends. Per idle session it holds two small
//! tasks and an empty queue, nothing more.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chrono::Utc;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::Live;
use super::client_frames::{self, ClientFrame};
use super::frames::Signal;
use super::hub::Attachment;
use crate::auth::Principal;

/// Close codes (RFC 6455 section 7.4.1).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const NOT_UTF8: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const ERROR: u16 = 1011;
    pub const AGAIN: u16 = 1013;
}

/// How long a closing frame may take to reach a peer that is slow to read.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Frames written before one flush.
const WRITE_BATCH: usize = 64;

/// Ends a session once, with a close code and reason (or silently, for a peer that is gone).
#[derive(Clone, Default)]
pub struct Closer(Arc<Closing>);

#[derive(Default)]
pub struct Closing {
    /// The first reason given wins; `None` inside: no closing frame.
    reason: OnceLock<Option<(u16, String)>>,
    done: CancellationToken,
}

impl Closer {
    pub fn close(&self, code: u16, reason: &str) {
        let _ = self.0.reason.set(Some((code, reason.to_owned())));
        self.0.done.cancel();
    }

    /// Ends the session without a closing frame (the peer closed or vanished).
    pub fn drop_peer(&self) {
        let _ = self.0.reason.set(None);
        self.0.done.cancel();
    }

    pub fn reason(&self) -> Option<(u16, String)> {
        self.0.reason.get().cloned().flatten()
    }

    pub async fn closed(&self) {
        self.0.done.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.0.done.is_cancelled()
    }
}

/// What a session needs answered for each client frame.
pub trait Handler: Send + Sync + 'static {
    /// The frame to answer with, if any (acks, errors, pongs).
    fn handle(
        &self,
        principal: &Principal,
        frame: ClientFrame,
    ) -> impl Future<Output = Option<Utf8Bytes>> + Send;
}

/// Queues a frame, waiting for room unless the session is closing. False once closing.
pub async fn send(session: &Attachment, frame: Utf8Bytes) -> bool {
    tokio::select! {
        sent = session.tx.send(frame) => sent.is_ok(),
        () = session.closer.closed() => false,
    }
}

fn error_frame(code: &'static str, message: &str, client_msg_id: Option<&str>) -> Utf8Bytes {
    Signal::Error { code, message, client_msg_id }.encode()
}

/// Runs a session until it ends, then forgets it everywhere.
pub async fn run<H: Handler>(
    socket: WebSocket,
    live: Live,
    principal: Principal,
    since: Option<u64>,
    handler: H,
) {
    let (tx, rx) = mpsc::channel(live.config.ws_send_queue);
    let session_id = uuid::Uuid::now_v7().to_string();
    let session = Attachment {
        id: live.next_session_id(),
        name: session_id.as_str().into(),
        tx,
        closer: Closer::default(),
    };
    let user = principal.user_id.clone();
    metrics::gauge!("parley_ws_sessions").increment(1.0);
    live.presence.connected(&user);
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write(sink, rx, session.closer.clone(), live.config.ws_ping_interval));
    // Read before the client hears it is connected: everything appended after that is sent.
    let tip = match live.log.last_seq().await {
        Ok(tip) => tip,
        Err(e) => {
            tracing::warn!(error = %e, "a session could not start: NATS unavailable");
            session.closer.close(close_code::ERROR, "event log unavailable; reconnect shortly");
            0
        }
    };
    let established = Signal::Established {
        user_id: user.as_str(),
        session_id: &session_id,
        server_time: Utc::now(),
        resumed_from: since,
    };
    let resume = if !session.closer.is_closed() && send(&session, established.encode()).await {
        let (live, session, user) = (live.clone(), session.clone(), user.clone());
        Some(tokio::spawn(async move {
            if let Err(e) = super::resume::resume(&live, &session, &user, since, tip).await {
                tracing::warn!(error = %e, "a session could not catch up; closing it");
                session.closer.close(close_code::ERROR, "could not catch up; reconnect with since");
            }
        }))
    } else {
        None
    };
    read(stream, &live, &session, &principal, &handler).await;
    if let Some(resume) = resume {
        // Finished before detaching, so it cannot attach the session after it is gone.
        resume.abort();
        let _ = resume.await;
    }
    live.hub.detach(session.id);
    live.presence.disconnected(&user);
    metrics::gauge!("parley_ws_sessions").decrement(1.0);
    let _ = writer.await;
}

async fn read<H: Handler>(
    mut stream: SplitStream<WebSocket>,
    live: &Live,
    session: &Attachment,
    principal: &Principal,
    handler: &H,
) {
    let peer_timeout = live.config.ws_peer_timeout;
    let expires_in = (principal.expires_at - Utc::now()).to_std().unwrap_or_default();
    let expiry = Instant::now() + expires_in;
    let mut heard = Instant::now();
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            () = session.closer.closed() => return,
            () = sleep_until(heard + peer_timeout) => {
                tracing::debug!("dropping a silent peer");
                return session.closer.drop_peer();
            }
            () = sleep_until(expiry) => return session.closer.close(close_code::POLICY, "token expired"),
            () = live.shutdown.cancelled() => return session.closer.close(close_code::AWAY, "server shutting down"),
        };
        heard = Instant::now();
        let answer = match message {
            Some(Ok(Message::Text(text))) => match client_frames::parse(&text) {
                // Boxed: a handler's future is large and lives only while a frame is handled;
                // inline, every idle session would carry room for it.
                Ok(frame) => Box::pin(handler.handle(principal, frame)).await,
                Err(refused) => {
                    Some(error_frame(refused.code, &refused.message, refused.client_msg_id.as_deref()))
                }
            },
            Some(Ok(Message::Binary(_))) => Some(error_frame(
                "binary_not_supported",
                "frames are JSON text; binary frames are not read",
                None,
            )),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
            Some(Ok(Message::Close(_))) | None => return session.closer.drop_peer(),
            Some(Err(e)) => return refuse_read(live, session, &e),
        };
        if let Some(answer) = answer
            && !send(session, answer).await
        {
            return;
        }
    }
}

/// Ends a session whose client sent what cannot be read, with the close code RFC 6455 names
/// for it, or silently when the connection itself failed. axum does not re-export
/// tungstenite's error type, so its (stable) messages tell which it was.
fn refuse_read(live: &Live, session: &Attachment, error: &axum::Error) {
    let text = error.to_string();
    if text.starts_with("Space limit exceeded") {
        let limit = live.config.ws_max_message_bytes;
        session.closer.close(close_code::TOO_BIG, &format!("frame larger than {limit} bytes"));
    } else if text.starts_with("UTF-8 encoding error") {
        session.closer.close(close_code::NOT_UTF8, "text frame is not UTF-8");
    } else if text.starts_with("WebSocket protocol error") && !text.contains("without closing handshake") {
        tracing::debug!(error = %text, "closing a session that broke the protocol");
        session.closer.close(close_code::PROTOCOL, "WebSocket protocol violation");
    } else {
        tracing::debug!(error = %text, "session read failed");
        session.closer.drop_peer();
    }
}

/// Drains the queue into the socket, pings, and writes the closing frame at the end.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Utf8Bytes>,
    closer: Closer,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    loop {
        let first = tokio::select! {
            biased;
            () = closer.closed() => break,
            frame = rx.recv() => match frame {
                Some(frame) => Message::Text(frame),
                None => break,
            },
            _ = ping.tick() => Message::Ping(bytes::Bytes::new()),
        };
        let written = async {
            sink.feed(first).await?;
            for _ in 0..WRITE_BATCH {
                match rx.try_recv() {
                    Ok(frame) => sink.feed(Message::Text(frame)).await?,
                    Err(_) => break,
                }
            }
            sink.flush().await
        };
        // A peer that stops reading blocks the write; closing must not wait for it.
        let failed = tokio::select! {
            result = written => result.is_err(),
            () = closer.closed() => break,
        };
        if failed {
            closer.drop_peer();
            return;
        }
    }
    if let Some((code, reason)) = closer.reason() {
        let close = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(reason) }));
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close)).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}
