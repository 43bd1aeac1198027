//! `Verifier`: checks a bearer token against the one configured algorithm and key, then reads
//! the Parley claims into a `Principal`. Cheap to share (`Arc`) and synchronous, so the HTTP
//! extractor and the WebSocket upgrade use the same `verify`.

use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

use super::keys::{self, KeyError};
use super::{Principal, TokenError};
use crate::config::{AuthConfig, Environment, JwtAlgorithm};
use crate::domain::{Role, UserId};

/// Leeway when none is configured, matching `--jwt-leeway`'s default.
const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Verifier {
    algorithm: JwtAlgorithm,
    key: DecodingKey,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    validation: Validation,
}

impl Verifier {
    /// The verifier `parley serve` uses. Fails, with one line naming the setting or file, when
    /// the keys are missing, contradictory or unreadable; in development without any key it
    /// uses (and on first use creates) the secret under `data_dir`.
    pub fn from_config(
        auth: &AuthConfig,
        environment: Environment,
        data_dir: &Path,
    ) -> Result<Self, KeyError> {
        let key = match auth.jwt_algorithm {
            JwtAlgorithm::Hs256 => {
                if auth.jwt_public_key_file.is_some() {
                    return Err(KeyError::PublicKeyWithHs256);
                }
                DecodingKey::from_secret(&keys::hmac_secret(auth, environment, data_dir)?)
            }
            algorithm => {
                if auth.jwt_secret.is_some() {
                    return Err(KeyError::SecretWithPublicKeyAlgorithm(algorithm));
                }
                let path =
                    auth.jwt_public_key_file.as_deref().ok_or(KeyError::PublicKeyMissing(algorithm))?;
                keys::public_key_file(algorithm, path)?
            }
        };
        Ok(Self::new(auth.jwt_algorithm, key)
            .with_issuer(auth.jwt_issuer.clone())
            .with_audience(auth.jwt_audience.clone())
            .with_leeway(auth.jwt_leeway))
    }

    /// HS256 with this shared secret (length rules are configuration's; see `from_config`).
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(JwtAlgorithm::Hs256, DecodingKey::from_secret(secret))
    }

    /// RS256 or EdDSA with a public key in PEM (SubjectPublicKeyInfo, or PKCS#1 for RSA).
    /// `None` when the key does not parse or does not suit the algorithm.
    pub fn from_public_key_pem(algorithm: JwtAlgorithm, pem: &[u8]) -> Option<Self> {
        keys::public_key(algorithm, pem).map(|key| Self::new(algorithm, key))
    }

    fn new(algorithm: JwtAlgorithm, key: DecodingKey) -> Self {
        let mut verifier = Self {
            algorithm,
            key,
            issuer: None,
            audience: None,
            leeway: DEFAULT_LEEWAY,
            validation: Validation::new(keys::algorithm(algorithm)),
        };
        verifier.validation = verifier.validation();
        verifier
    }

    /// Requires this `iss`; `None` accepts any issuer.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer;
        self.validation = self.validation();
        self
    }

    /// Requires this `aud` (one of the token's, when it names several); `None` accepts any.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience;
        self.validation = self.validation();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self.validation = self.validation();
        self
    }

    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    fn validation(&self) -> Validation {
        // Exactly one algorithm: a token's own `alg` header never chooses how it is checked.
        let mut validation = Validation::new(keys::algorithm(self.algorithm));
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // jsonwebtoken refuses any token carrying `aud` unless an audience is set; with
            // none configured the audience is not checked at all.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// Checks the signature, `exp`, `nbf`, `iss` and `aud`, then reads the principal.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| self.refusal(e.into_kind()))?;
        principal(&data.claims)
    }

    fn refusal(&self, kind: ErrorKind) -> TokenError {
        let expected = self.algorithm.as_str();
        match kind {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm { expected },
            ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim),
            ErrorKind::InvalidClaimFormat(claim) => {
                TokenError::InvalidClaim { claim, why: "must be a number of seconds since 1970" }
            }
            ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            // An unknown `alg` such as "none" fails while reading the header, as JSON.
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                TokenError::Malformed { expected }
            }
            other => {
                tracing::warn!(kind = ?other, algorithm = expected, "a token could not be checked");
                TokenError::Unverifiable
            }
        }
    }
}

/// The Parley claims of a token whose signature and registered claims are already checked.
fn principal(claims: &Map<String, Value>) -> Result<Principal, TokenError> {
    let invalid = |claim: &str, why| TokenError::InvalidClaim { claim: claim.to_owned(), why };
    let user_id = match claims.get("sub") {
        None | Some(Value::Null) => return Err(TokenError::MissingClaim("sub".into())),
        Some(Value::String(sub)) => UserId::parse(sub).map_err(|_| {
            invalid("sub", "must be a user id of 1 to 64 characters of A-Z a-z 0-9 _ . : @ -")
        })?,
        Some(_) => return Err(invalid("sub", "must be a string")),
    };
    let role = match claims.get("role") {
        None | Some(Value::Null) => return Err(TokenError::MissingClaim("role".into())),
        Some(Value::String(role)) => Role::parse(role).ok(),
        Some(_) => None,
    }
    .ok_or_else(|| invalid("role", "must be one of recruiter, applicant, service, analyst"))?;
    let name = match claims.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.trim()).filter(|n| !n.is_empty()),
        Some(_) => return Err(invalid("name", "must be a string")),
    };
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_f64)
        .and_then(|exp| DateTime::from_timestamp(exp as i64, 0))
        .ok_or_else(|| invalid("exp", "must be a number of seconds since 1970"))?;
    Ok(Principal { user_id, role, name: name.map(str::to_owned), expires_at })
}
