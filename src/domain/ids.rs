//! Identifier newtypes. Each is parsed once at the edge (parse, don't validate) so the rest of
//! the code can hold a `UserId` and know it is well formed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::Invalid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(text: &str) -> Result<Self, Invalid> {
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| Invalid::new(stringify!($name), "must be a UUID"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A conversation. Time-ordered v7 for ordinary conversations; name-based v5 for those
    /// whose identity is a fact elsewhere (a direct pair, an ATS application), so that racing
    /// creators agree on it.
    ConversationId
);
uuid_id!(
    /// A message: v7, so ids sort by creation time.
    MessageId
);
uuid_id!(
    /// An uploaded attachment.
    AttachmentId
);
uuid_id!(
    /// The identity of one event in the log, unique across all streams.
    EventId
);

/// Namespace for name-based conversation ids. Persisted: never change it.
const CONVERSATION_NAMESPACE: Uuid = Uuid::from_u128(0x7061_726c_6579_4000_8000_636f_6e76_0001);

impl ConversationId {
    /// The one direct conversation between two users, whatever order they are named in.
    pub fn direct(a: &UserId, b: &UserId) -> Self {
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        let name = format!("direct\n{}\n{}", first.as_str(), second.as_str());
        Self(Uuid::new_v5(&CONVERSATION_NAMESPACE, name.as_bytes()))
    }

    /// The conversation of an ATS application.
    pub fn for_application(application_id: &ExternalId) -> Self {
        let name = format!("application\n{}", application_id.as_str());
        Self(Uuid::new_v5(&CONVERSATION_NAMESPACE, name.as_bytes()))
    }
}

impl MessageId {
    /// The system message that records one ATS event: replays of the event name the same
    /// message.
    pub fn for_ats_event(event_id: &ExternalId) -> Self {
        let name = format!("ats-event\n{}", event_id.as_str());
        Self(Uuid::new_v5(&CONVERSATION_NAMESPACE, name.as_bytes()))
    }
}

/// Accepts a JSON string, or a JSON integer read as its decimal string: older clients send
/// numeric ids.
fn string_or_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::Text(text) => text,
        Raw::Unsigned(n) => n.to_string(),
        Raw::Signed(n) => n.to_string(),
    })
}

/// A user id from the identity provider: 1 to 64 characters of `[A-Za-z0-9_.:@-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'@' | b'-'));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(Invalid::new("user_id", "must be 1 to 64 characters of A-Z a-z 0-9 _ . : @ -"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = string_or_integer(deserializer)?;
        UserId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! printable_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = 128;

            pub fn parse(text: &str) -> Result<Self, Invalid> {
                let valid = !text.is_empty()
                    && text.len() <= Self::MAX_LEN
                    && text.bytes().all(|b| b.is_ascii_graphic());
                if valid {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(Invalid::new($field, "must be 1 to 128 printable ASCII characters without spaces"))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = string_or_integer(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

printable_id!(
    /// An identifier owned by another system (ATS application, job, event): 1 to 128
    /// printable ASCII characters without spaces. Numbers are accepted as their decimal string.
    ExternalId,
    "id"
);
printable_id!(
    /// A client's idempotency key for a send: 1 to 128 printable ASCII characters.
    ClientMsgId,
    "client_msg_id"
);

/// What a token says its holder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Recruiter,
    Applicant,
    /// A backend (the ATS) that may act on behalf of any user.
    Service,
    /// Reads the event log; takes part in no conversation.
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Recruiter => "recruiter",
            Role::Applicant => "applicant",
            Role::Service => "service",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "recruiter" => Ok(Role::Recruiter),
            "applicant" => Ok(Role::Applicant),
            "service" => Ok(Role::Service),
            "analyst" => Ok(Role::Analyst),
            _ => Err(Invalid::new("role", "must be one of recruiter, applicant, service, analyst")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_accept_the_documented_alphabet_and_nothing_else() {
        assert!(UserId::parse("recruiter-1@acme.io:x_y").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"a".repeat(65)).is_err());
        assert!(UserId::parse("has space").is_err());
        assert!(UserId::parse("ünïcode").is_err());
    }

    #[test]
    fn numeric_user_ids_are_read_as_their_decimal_string() {
        let ids: Vec<UserId> = serde_json::from_str(r#"[1, "2", 30]"#).unwrap();
        let texts: Vec<&str> = ids.iter().map(UserId::as_str).collect();
        assert_eq!(texts, ["1", "2", "30"]);
    }

    #[test]
    fn the_direct_conversation_id_ignores_the_order_of_the_pair() {
        let a = UserId::parse("alice").unwrap();
        let b = UserId::parse("bob").unwrap();
        assert_eq!(ConversationId::direct(&a, &b), ConversationId::direct(&b, &a));
        let c = UserId::parse("carol").unwrap();
        assert_ne!(ConversationId::direct(&a, &b), ConversationId::direct(&a, &c));
    }

    #[test]
    fn name_based_ids_are_stable_across_releases() {
        // Persisted in the log: a change here would split existing conversations in two.
        let app = ExternalId::parse("app-42").unwrap();
        assert_eq!(ConversationId::for_application(&app).to_string(), "d16cc902-55cc-50c6-a789-de15c1dab2eb");
        let (a, b) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        assert_eq!(ConversationId::direct(&a, &b).to_string(), "d664d088-6fd8-57e7-a3f1-71f8e5bb8d6a");
        let event = ExternalId::parse("evt-1").unwrap();
        assert_eq!(MessageId::for_ats_event(&event).to_string(), "cb7a3e3c-447d-5060-9374-613320e7431a");
    }
}
