//! Authentication settings, shared by `parley serve` and `parley token`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{Environment, parse_duration, redacted};
use crate::domain::{Role, UserId};

#[derive(Args, Clone)]
pub struct AuthConfig {
    /// Signature algorithm every token must use: HS256 (shared secret), RS256 or EdDSA
    /// (public key file). Tokens with any other `alg` are refused.
    #[arg(long, env = "PARLEY_JWT_ALGORITHM", value_enum, ignore_case = true, default_value_t = JwtAlgorithm::Hs256)]
    pub jwt_algorithm: JwtAlgorithm,

    /// HS256 shared secret, at least 32 bytes. Unset in development: a random one is kept in
    /// `<data-dir>/dev-jwt-secret`. Never logged.
    #[arg(long, env = "PARLEY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file with the public key that verifies RS256 or EdDSA tokens.
    #[arg(long, env = "PARLEY_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Required `iss` claim. Unset: the issuer is not checked.
    #[arg(long, env = "PARLEY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim. Unset: the audience is not checked.
    #[arg(long, env = "PARLEY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew tolerated when checking `exp` and `nbf`.
    #[arg(long, env = "PARLEY_JWT_LEEWAY", value_parser = parse_duration, default_value = "30s")]
    pub jwt_leeway: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("jwt_secret", &redacted(self.jwt_secret.is_some()))
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_leeway", &self.jwt_leeway)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[value(name = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256; verified with a public key.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519; verified with a public key.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl JwtAlgorithm {
    /// The name in a token's `alg` header and in `PARLEY_JWT_ALGORITHM`.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl std::fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `parley token`: mints a token the way the identity provider would, for development.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The user id (`sub` claim).
    #[arg(long, value_parser = parse_user_id)]
    pub sub: UserId,

    /// The role claim: recruiter, applicant, service or analyst.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,

    /// Display name (`name` claim).
    #[arg(long)]
    pub name: Option<String>,

    /// How long the token is valid.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub ttl: Duration,

    /// PEM file with the private key, for RS256 and EdDSA.
    #[arg(long, env = "PARLEY_JWT_PRIVATE_KEY_FILE")]
    pub private_key_file: Option<PathBuf>,

    /// Directory holding the development signing key (the same as `parley serve`'s).
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = ".parley")]
    pub data_dir: PathBuf,

    /// development or production. Production never reads or creates a development key.
    #[arg(long = "env", env = "PARLEY_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    #[command(flatten)]
    pub auth: AuthConfig,
}

fn parse_user_id(text: &str) -> Result<UserId, String> {
    UserId::parse(text).map_err(|e| e.message)
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).map_err(|e| e.message)
}
