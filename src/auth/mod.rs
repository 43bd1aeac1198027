//! Authentication: turns a bearer token (JWT) into a [`Principal`], and mints tokens for
//! development and tests.
//!
//! The algorithm is pinned by configuration (HS256 with a shared secret, RS256 or EdDSA with
//! a public key); a token naming any other `alg` is refused, which closes `alg: none` and
//! HS/RS key confusion. Signatures and registered claims are checked by `jsonwebtoken`; this
//! module adds the Parley claims (`sub` as a user id, `role`, `name`) and error messages a
//! client developer can act on. It never logs or echoes a token, and it knows nothing of HTTP.

mod keys;
mod sign;
mod verify;

#[cfg(test)]
#[path = "verify_tests.rs"]
mod verify_tests;

#[cfg(test)]
#[path = "config_tests.rs"]
mod config_tests;

use chrono::{DateTime, Utc};

use crate::domain::{Actor, Role, UserId};

pub use keys::{DEV_SECRET_FILE, KeyError, MIN_SECRET_BYTES};
pub use sign::{SignError, Signer};
pub use verify::Verifier;

/// Who is calling: the verified claims of a bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    /// The display name from the `name` claim, if the identity provider sent one.
    pub name: Option<String>,
    /// When the token expires (`exp`); live sessions close at this moment.
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    /// The principal as the author of events.
    pub fn actor(&self) -> Actor {
        Actor { user_id: self.user_id.clone(), role: self.role }
    }
}

/// Why a token was refused. Messages are safe to show the client: they name the rule the
/// token broke, never the token or its claim values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (its nbf is in the future)")]
    NotYetValid,
    #[error("token signature invalid")]
    BadSignature,
    #[error("token algorithm not accepted: this server only accepts {expected}")]
    WrongAlgorithm { expected: &'static str },
    #[error(
        "token malformed: expected a JWT (three base64url parts separated by dots) signed with {expected}"
    )]
    Malformed { expected: &'static str },
    #[error("token has no {0} claim, which this server requires")]
    MissingClaim(String),
    #[error("token claim {claim} is invalid: {why}")]
    InvalidClaim { claim: String, why: &'static str },
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token audience not accepted")]
    WrongAudience,
    /// The key could not check the signature at all; a server-side fault, logged.
    #[error("token could not be verified")]
    Unverifiable,
}
