//! `Signer`: mints tokens the way an identity provider would, for `parley token` and tests.
//! Production tokens come from the identity provider; nothing in `serve` signs.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use super::keys::{self, KeyError};
use crate::config::{AuthConfig, Environment, JwtAlgorithm};
use crate::domain::{Role, UserId};

#[derive(Clone, Debug)]
pub struct Signer {
    algorithm: JwtAlgorithm,
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

/// A token could not be signed (claims that do not serialise, or a key the crypto refuses).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the token: {0}")]
pub struct SignError(String);

/// The claims `mint` writes; `Verifier::verify` reads the same names.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

impl Signer {
    /// The signer `parley token` uses: the configured algorithm, issuer and audience, so its
    /// tokens pass a server with the same configuration. HS256 takes the secret exactly as
    /// `Verifier::from_config` does (creating the development secret if needed); RS256 and
    /// EdDSA need the private key file.
    pub fn from_config(
        auth: &AuthConfig,
        environment: Environment,
        data_dir: &Path,
        private_key_file: Option<&Path>,
    ) -> Result<Self, KeyError> {
        let key = match (auth.jwt_algorithm, private_key_file) {
            (JwtAlgorithm::Hs256, None) => {
                EncodingKey::from_secret(&keys::hmac_secret(auth, environment, data_dir)?)
            }
            (JwtAlgorithm::Hs256, Some(_)) => return Err(KeyError::PrivateKeyWithHs256),
            (algorithm, None) => return Err(KeyError::PrivateKeyMissing(algorithm)),
            (algorithm, Some(path)) => keys::private_key_file(algorithm, path)?,
        };
        Ok(Self {
            algorithm: auth.jwt_algorithm,
            key,
            issuer: auth.jwt_issuer.clone(),
            audience: auth.jwt_audience.clone(),
        })
    }

    /// HS256 with this shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            algorithm: JwtAlgorithm::Hs256,
            key: EncodingKey::from_secret(secret),
            issuer: None,
            audience: None,
        }
    }

    /// RS256 or EdDSA with a PKCS#8 private key in PEM (or PKCS#1 for RSA). `None` when the
    /// key does not parse or does not suit the algorithm.
    pub fn from_private_key_pem(algorithm: JwtAlgorithm, pem: &[u8]) -> Option<Self> {
        keys::private_key(algorithm, pem).map(|key| Self { algorithm, key, issuer: None, audience: None })
    }

    /// Writes this `iss` into minted tokens.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer;
        self
    }

    /// Writes this `aud` into minted tokens.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience;
        self
    }

    /// A token for `user` in `role`, valid from now for `ttl`.
    pub fn mint(
        &self,
        user: &UserId,
        role: Role,
        name: Option<&str>,
        ttl: Duration,
    ) -> Result<String, SignError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).map_err(|_| SignError("ttl too long".into()))?;
        self.sign(&Claims {
            sub: user.as_str(),
            role,
            name,
            iat: now,
            exp: now.saturating_add(ttl),
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        })
    }

    /// Signs any claims as they are, for tests that need tokens `mint` would never make.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, SignError> {
        let header = Header::new(keys::algorithm(self.algorithm));
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| SignError(e.to_string()))
    }
}
