//! Key material: the HS256 secret (configured, or the development secret kept under the data
//! directory) and PEM key files. Every failure is one line naming the setting or file to fix,
//! for start-up errors; no message ever contains key bytes.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::config::{AuthConfig, Environment, JwtAlgorithm};

/// The development secret's file name under the data directory.
pub const DEV_SECRET_FILE: &str = "dev-jwt-secret";

/// Shortest accepted HS256 secret: RFC 7518 section 3.2 requires a key at least as long as
/// the hash output (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// Why the configured keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "production needs PARLEY_JWT_SECRET (or PARLEY_JWT_ALGORITHM=RS256/EdDSA with PARLEY_JWT_PUBLIC_KEY_FILE): the generated development key is for development only"
    )]
    ProductionNeedsKey,
    #[error(
        "PARLEY_JWT_SECRET is too short: HS256 needs at least {MIN_SECRET_BYTES} bytes (for example the output of `openssl rand -hex 32`)"
    )]
    SecretTooShort,
    #[error(
        "PARLEY_JWT_ALGORITHM={0} needs PARLEY_JWT_PUBLIC_KEY_FILE: the PEM file of the public key that verifies tokens"
    )]
    PublicKeyMissing(JwtAlgorithm),
    #[error(
        "PARLEY_JWT_SECRET is set but PARLEY_JWT_ALGORITHM={0} verifies with PARLEY_JWT_PUBLIC_KEY_FILE: unset one of them"
    )]
    SecretWithPublicKeyAlgorithm(JwtAlgorithm),
    #[error(
        "PARLEY_JWT_PUBLIC_KEY_FILE is set but PARLEY_JWT_ALGORITHM is HS256, which uses PARLEY_JWT_SECRET: set PARLEY_JWT_ALGORITHM=RS256 or EdDSA, or unset the file"
    )]
    PublicKeyWithHs256,
    #[error(
        "PARLEY_JWT_ALGORITHM={0} signs with a private key: pass --private-key-file with the PEM file of the key"
    )]
    PrivateKeyMissing(JwtAlgorithm),
    #[error(
        "--private-key-file is set but PARLEY_JWT_ALGORITHM is HS256, which signs with PARLEY_JWT_SECRET: set PARLEY_JWT_ALGORITHM=RS256 or EdDSA"
    )]
    PrivateKeyWithHs256,
    #[error("cannot read {setting} {}: {cause}", path.display())]
    Unreadable { setting: &'static str, path: PathBuf, cause: std::io::Error },
    #[error("{setting} {} is not {} {kind} key in PEM format", path.display(), article(*algorithm))]
    InvalidPem { setting: &'static str, path: PathBuf, algorithm: JwtAlgorithm, kind: &'static str },
    #[error(
        "the development signing key {} is unusable ({why}); delete it to have a new one generated",
        path.display()
    )]
    DevSecretInvalid { path: PathBuf, why: String },
    #[error(
        "cannot create the development signing key {}: {cause} (set PARLEY_DATA_DIR to a writable directory, or set PARLEY_JWT_SECRET)",
        path.display()
    )]
    DevSecretCreate { path: PathBuf, cause: std::io::Error },
}

fn article(algorithm: JwtAlgorithm) -> &'static str {
    match algorithm {
        JwtAlgorithm::Rs256 => "an RS256 (RSA)",
        JwtAlgorithm::EdDsa => "an EdDSA (Ed25519)",
        JwtAlgorithm::Hs256 => "an HS256",
    }
}

pub(super) fn algorithm(algorithm: JwtAlgorithm) -> Algorithm {
    match algorithm {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
        JwtAlgorithm::EdDsa => Algorithm::EdDSA,
    }
}

/// The HS256 secret: the configured one, or in development the generated one.
pub(super) fn hmac_secret(
    auth: &AuthConfig,
    environment: Environment,
    data_dir: &Path,
) -> Result<Vec<u8>, KeyError> {
    match &auth.jwt_secret {
        Some(secret) if secret.len() < MIN_SECRET_BYTES => Err(KeyError::SecretTooShort),
        Some(secret) => Ok(secret.as_bytes().to_vec()),
        None if environment == Environment::Production => Err(KeyError::ProductionNeedsKey),
        None => dev_secret(data_dir),
    }
}

/// The development secret under `data_dir`, generated on first use: 32 random bytes, kept as
/// 64 hex characters (mode 0600). The text itself is the HMAC key, so the file's content also
/// works as a `PARLEY_JWT_SECRET`.
pub(super) fn dev_secret(data_dir: &Path) -> Result<Vec<u8>, KeyError> {
    let path = data_dir.join(DEV_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => return parse_dev_secret(&path, &text),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(cause) => {
            return Err(KeyError::Unreadable { setting: "the development signing key", path, cause });
        }
    }
    create_dev_secret(&path).map_err(|cause| KeyError::DevSecretCreate { path: path.clone(), cause })?;
    let text = std::fs::read_to_string(&path).map_err(|cause| KeyError::Unreadable {
        setting: "the development signing key",
        path: path.clone(),
        cause,
    })?;
    parse_dev_secret(&path, &text)
}

fn parse_dev_secret(path: &Path, text: &str) -> Result<Vec<u8>, KeyError> {
    let secret = text.trim();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError::DevSecretInvalid {
            path: path.to_owned(),
            why: format!("shorter than {MIN_SECRET_BYTES} characters"),
        });
    }
    Ok(secret.as_bytes().to_vec())
}

/// Writes a fresh secret next to `path` and links it into place. The link fails if another
/// process (`serve` and `token` started together) got there first; its key is kept, so
/// both agree, and no reader ever sees a half-written file.
fn create_dev_secret(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let temporary = dir.join(format!(".{DEV_SECRET_FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let written = (|| {
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
        file.write_all(format!("{text}\n").as_bytes())?;
        file.sync_all()
    })();
    let linked = written.and_then(|()| match std::fs::hard_link(&temporary, path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a development signing key");
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    });
    let _ = std::fs::remove_file(&temporary);
    linked
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|cause| KeyError::Unreadable { setting, path: path.to_owned(), cause })
}

/// Reads and checks a public key file: the key must parse and suit the algorithm.
pub(super) fn public_key_file(algorithm: JwtAlgorithm, path: &Path) -> Result<DecodingKey, KeyError> {
    const SETTING: &str = "PARLEY_JWT_PUBLIC_KEY_FILE";
    let pem = read(SETTING, path)?;
    public_key(algorithm, &pem).ok_or_else(|| KeyError::InvalidPem {
        setting: SETTING,
        path: path.to_owned(),
        algorithm,
        kind: "public",
    })
}

/// Reads and checks a private key file, for signing.
pub(super) fn private_key_file(algorithm: JwtAlgorithm, path: &Path) -> Result<EncodingKey, KeyError> {
    const SETTING: &str = "--private-key-file";
    let pem = read(SETTING, path)?;
    private_key(algorithm, &pem).ok_or_else(|| KeyError::InvalidPem {
        setting: SETTING,
        path: path.to_owned(),
        algorithm,
        kind: "private",
    })
}

/// A public key from PEM, or `None` when it does not parse or does not suit the algorithm.
pub(super) fn public_key(algorithm: JwtAlgorithm, pem: &[u8]) -> Option<DecodingKey> {
    let key = match algorithm {
        JwtAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem),
        JwtAlgorithm::EdDsa => DecodingKey::from_ed_pem(pem),
        JwtAlgorithm::Hs256 => return None,
    }
    .ok()?;
    // PEM parsing only unwraps the DER, and the RSA verifier parses the key lazily, folding
    // a broken key into "signature invalid" on every request. Deriving the JWK parses an RSA
    // key now; the probe (an empty signature: `Ok(false)` for a usable key) builds the
    // Ed25519 verifier, which rejects a point off the curve.
    let alg = self::algorithm(algorithm);
    jsonwebtoken::jwk::Jwk::from_decoding_key(&key, Some(alg)).ok()?;
    jsonwebtoken::crypto::verify("", b"probe", &key, alg).ok()?;
    Some(key)
}

/// A private key from PEM, or `None` when it does not parse or does not suit the algorithm.
pub(super) fn private_key(algorithm: JwtAlgorithm, pem: &[u8]) -> Option<EncodingKey> {
    let key = match algorithm {
        JwtAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
        JwtAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem),
        JwtAlgorithm::Hs256 => return None,
    }
    .ok()?;
    // Signing parses the key, so a probe signature proves it usable.
    jsonwebtoken::crypto::sign(b"probe", &key, self::algorithm(algorithm)).ok()?;
    Some(key)
}
