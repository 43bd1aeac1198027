//! HTTP helpers for a `Server`: JSON requests with a bearer token, and typed shortcuts for the
//! common steps of a test.

use reqwest::Method;
use serde_json::{Value, json};

use super::app::Server;

/// Status and JSON body (Null when the body is empty or not JSON).
pub type Answer = (u16, Value);

impl Server {
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("reading the body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// POSTs `body` as it is, labelled JSON: for bodies a `Value` cannot hold (malformed,
    /// not UTF-8, absurdly nested). The whole response, headers included.
    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers")
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Uploads `bytes` as the multipart field `file` named `name` (the client claims PDF,
    /// whatever the bytes are: the server must not believe it).
    pub async fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> Answer {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("application/pdf")
            .expect("a valid MIME type");
        self.send_form(token, reqwest::multipart::Form::new().part("file", part)).await
    }

    /// Uploads `chunks` as a stream of unknown length (chunked transfer, no Content-Length),
    /// so that only the server's metering can stop an oversized file.
    pub async fn upload_streamed(&self, token: &str, name: &str, chunks: Vec<Vec<u8>>) -> Answer {
        let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        let part =
            reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream)).file_name(name.to_owned());
        self.send_form(token, reqwest::multipart::Form::new().part("file", part)).await
    }

    pub async fn send_form(&self, token: &str, form: reqwest::multipart::Form) -> Answer {
        let response = self
            .http
            .post(self.url("/api/attachments"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Creates a group conversation of the caller and `others`; returns its id.
    pub async fn create_conversation(&self, token: &str, others: &[&str]) -> String {
        let (status, body) = self.post("/api/conversations", token, json!({"participant_ids": others})).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("an id").to_owned()
    }

    /// Sends a message; returns the message.
    pub async fn send_message(&self, token: &str, conversation: &str, content: &str) -> Value {
        let (status, body) = self
            .post("/api/messages", token, json!({"conversation_id": conversation, "content": content}))
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }
}

/// Asserts a problem document with this status, returning it.
pub fn problem(answer: Answer, status: u16) -> Value {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["status"], status, "a problem document: {}", answer.1);
    assert!(answer.1["title"].is_string() && answer.1["detail"].is_string(), "{}", answer.1);
    answer.1
}
