//! The frames a client may send, parsed with the field at fault named: every failure is an
//! `error` frame (`malformed`, `unknown_type`, `invalid`), never a closed session.

use serde::Deserialize;
use uuid::Uuid;

/// What a client may send.
#[derive(Debug)]
pub enum ClientFrame {
    MessageSend(MessageSend),
    /// `typing`, or its alias `typing_status`.
    Typing(Typing),
    Read(Read),
    Delivered(Delivered),
    Ping(Ping),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSend {
    pub conversation_id: Uuid,
    pub content: String,
    pub client_msg_id: String,
    pub reply_to: Option<Uuid>,
    /// `text` (default) or `file`.
    pub kind: Option<String>,
    pub attachment_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Typing {
    pub conversation_id: Uuid,
    pub is_typing: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Read {
    pub conversation_id: Option<Uuid>,
    pub up_to_seq: Option<u64>,
    pub message_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivered {
    pub conversation_id: Uuid,
    pub up_to_seq: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {}

/// The client frame types, for "unknown type" answers.
pub const CLIENT_TYPES: &[&str] = &["message.send", "typing", "typing_status", "read", "delivered", "ping"];

/// Why a client frame could not be read: `code` and a message for the `error` frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
    pub client_msg_id: Option<String>,
}

/// Parses one text frame, naming the field at fault.
pub fn parse(text: &str) -> Result<ClientFrame, Refused> {
    let refused = |code, message: String, client_msg_id| Refused { code, message, client_msg_id };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| refused("malformed", format!("the frame is not valid JSON: {e}"), None))?;
    let serde_json::Value::Object(mut fields) = value else {
        return Err(refused("malformed", "every frame is a JSON object with a string `type`".into(), None));
    };
    let client_msg_id = fields.get("client_msg_id").and_then(|v| v.as_str()).map(str::to_owned);
    let kind = match fields.remove("type") {
        Some(serde_json::Value::String(kind)) => kind,
        _ => {
            return Err(refused(
                "malformed",
                "every frame is a JSON object with a string `type`".into(),
                None,
            ));
        }
    };
    let body = serde_json::Value::Object(fields);
    fn read<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, String> {
        serde_path_to_error::deserialize(body).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." { inner } else { format!("{path}: {inner}") }
        })
    }
    let frame = match kind.as_str() {
        "message.send" => read(body).map(ClientFrame::MessageSend),
        "typing" | "typing_status" => read(body).map(ClientFrame::Typing),
        "read" => read(body).map(ClientFrame::Read),
        "delivered" => read(body).map(ClientFrame::Delivered),
        "ping" => read(body).map(ClientFrame::Ping),
        other => {
            let known = CLIENT_TYPES.join(", ");
            return Err(refused(
                "unknown_type",
                format!("unknown frame type {other:?}; known: {known}"),
                None,
            ));
        }
    };
    frame.map_err(|message| refused("invalid", message, client_msg_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_with_their_aliases() {
        let id = Uuid::now_v7();
        let typing =
            parse(&format!(r#"{{"type":"typing_status","conversation_id":"{id}","is_typing":true}}"#));
        assert!(matches!(typing, Ok(ClientFrame::Typing(Typing { is_typing: true, .. }))), "{typing:?}");
        assert!(matches!(parse(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping(Ping {}))));
    }

    #[test]
    fn each_kind_of_bad_frame_gets_its_own_code() {
        assert_eq!(parse("{nope").unwrap_err().code, "malformed");
        assert_eq!(parse("[1]").unwrap_err().code, "malformed");
        assert_eq!(parse(r#"{"type":"dance"}"#).unwrap_err().code, "unknown_type");
        let bad =
            parse(r#"{"type":"message.send","conversation_id":"x","content":"hi","client_msg_id":"k1"}"#)
                .unwrap_err();
        assert_eq!((bad.code, bad.client_msg_id.as_deref()), ("invalid", Some("k1")));
        assert!(bad.message.contains("conversation_id"), "{}", bad.message);
    }
}
