//! A raw TCP client for requests no well-behaved HTTP client would send: headers trickled a
//! byte at a time, oversized heads, bodies that never finish.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::app::Server;

pub struct Raw {
    pub stream: TcpStream,
}

/// What came back: the status (if a response head arrived), and everything read.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: Option<u16>,
    pub text: String,
    /// The server closed the connection (read returned end of file or reset).
    pub closed: bool,
}

impl Server {
    pub async fn raw(&self) -> Raw {
        let stream =
            TcpStream::connect(self.address.trim_start_matches("http://")).await.expect("connecting");
        Raw { stream }
    }
}

impl Raw {
    /// Writes bytes; false once the server has closed the connection.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Reads until a whole response (head and `content-length` body) arrived, the
    /// connection closed, or `within` passed.
    pub async fn answer(&mut self, within: Duration) -> RawAnswer {
        let deadline = tokio::time::Instant::now() + within;
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 8192];
        let mut closed = false;
        loop {
            if complete(&bytes) {
                break;
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await {
                Err(_) => break,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                Ok(Ok(n)) => bytes.extend_from_slice(&buffer[..n]),
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let status =
            text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok());
        RawAnswer { status, text, closed }
    }

    /// Waits until the server closes the connection; false if it is still open after `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut buffer = [0u8; 1024];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

fn complete(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + length
}

/// The request line and headers of a request with a bearer token, without the final blank line.
pub fn head(method: &str, path: &str, token: Option<&str>) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\n");
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    head
}
