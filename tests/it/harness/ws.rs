//! WebSocket clients for tests: a real tungstenite client against a `Server`, with helpers
//! that wait for frames (with deadlines, never fixed sleeps) and for the closing frame.

use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::app::Server;
use futures::{SinkExt, StreamExt};

/// How long a test waits for an expected frame.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every JSON frame received so far, in order.
    pub frames: Vec<Value>,
}

/// A refused handshake: the HTTP status and the problem document.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

/// How to open a connection.
#[derive(Default)]
pub struct Connect<'a> {
    pub path: &'a str,
    pub bearer: Option<&'a str>,
    pub origin: Option<&'a str>,
    /// A small receive buffer, for clients that stop reading.
    pub recv_buffer: Option<u32>,
}

impl Server {
    /// Opens `/api/ws` with a bearer header, resuming after `since` if given, and waits for
    /// `connection_established` and until the session is live (signals such as typing reach
    /// only live sessions).
    pub async fn ws(&self, token: &str, since: Option<u64>) -> WsClient {
        let path = match since {
            Some(since) => format!("/api/ws?since={since}"),
            None => "/api/ws".to_owned(),
        };
        let mut client = self
            .ws_connect(Connect { path: &path, bearer: Some(token), ..Connect::default() })
            .await
            .expect("the handshake succeeds");
        let first = client.next_frame().await;
        assert_eq!(first["type"], "connection_established", "{first}");
        let name = first["session_id"].as_str().expect("a session id").to_owned();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.state.live.hub.is_live(&name) {
            assert!(tokio::time::Instant::now() < deadline, "the session did not go live");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        client
    }

    pub async fn ws_connect(&self, how: Connect<'_>) -> Result<WsClient, Refused> {
        connect_with(self.address.trim_start_matches("http://"), how).await
    }
}

/// Opens a session on any server at `address` (host:port) with a bearer token.
pub async fn connect_at(address: &str, path: &str, bearer: Option<&str>) -> WsClient {
    connect_with(address, Connect { path, bearer, ..Connect::default() })
        .await
        .expect("the handshake succeeds")
}

async fn connect_with(address: &str, how: Connect<'_>) -> Result<WsClient, Refused> {
    let mut request = format!("ws://{address}{}", how.path).into_client_request().expect("a valid URL");
    if let Some(token) = how.bearer {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
        request.headers_mut().insert("authorization", value);
    }
    if let Some(origin) = how.origin {
        request.headers_mut().insert("origin", HeaderValue::from_str(origin).expect("a header value"));
    }
    let address: std::net::SocketAddr = address.parse().expect("a socket address");
    let socket = TcpSocket::new_v4().expect("a socket");
    if let Some(size) = how.recv_buffer {
        socket.set_recv_buffer_size(size).expect("setting the receive buffer");
    }
    let tcp = socket.connect(address).await.expect("connecting");
    match tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await {
        Ok((stream, _)) => Ok(WsClient { stream, frames: Vec::new() }),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body =
                response.body().as_ref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
            Err(Refused { status, body })
        }
        Err(e) => panic!("the handshake failed: {e}"),
    }
}

/// What ended a session, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    /// `None` when the connection ended without a closing frame.
    pub code: Option<u16>,
    pub reason: String,
}

impl WsClient {
    /// The next JSON frame, within `within`; `None` if none came.
    pub async fn try_next_frame(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("frames are JSON");
                    self.frames.push(value.clone());
                    return Some(value);
                }
                Some(Ok(Message::Close(frame))) => panic!("the session closed: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("the session failed: {e}"),
                None => panic!("the session ended"),
            }
        }
    }

    pub async fn next_frame(&mut self) -> Value {
        self.try_next_frame(WAIT).await.expect("a frame within the deadline")
    }

    /// The next frame of type `kind`, skipping (but keeping in `frames`) others.
    pub async fn next_frame_of_type(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame =
                self.try_next_frame(left).await.unwrap_or_else(|| panic!("no {kind} frame within {WAIT:?}"));
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next frame matching `predicate`, skipping others.
    pub async fn next_frame_where(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.try_next_frame(left).await.expect("the awaited frame within the deadline");
            if predicate(&frame) {
                return frame;
            }
        }
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send(Message::text(value.to_string())).await;
    }

    pub async fn send(&mut self, message: Message) {
        self.stream.send(message).await.expect("sending a frame");
    }

    /// Reads until the session ends and says how.
    pub async fn closed(&mut self) -> Closed {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("the session ends in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Closed { code: Some(u16::from(frame.code)), reason: frame.reason.to_string() };
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    return Closed { code: None, reason: String::new() };
                }
                Some(Ok(Message::Text(text))) => {
                    if let Ok(value) = serde_json::from_str(&text) {
                        self.frames.push(value);
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Ends the connection abruptly, without a closing frame.
    pub fn kill(self) {
        drop(self);
    }
}
