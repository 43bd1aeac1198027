//! Building a `Verifier` and a `Signer` from configuration: which keys are required, and the
//! development secret.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::{AuthConfig, Environment, JwtAlgorithm};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys").join(name)
}

fn auth(algorithm: JwtAlgorithm) -> AuthConfig {
    AuthConfig {
        jwt_algorithm: algorithm,
        jwt_secret: None,
        jwt_public_key_file: None,
        jwt_issuer: None,
        jwt_audience: None,
        jwt_leeway: Duration::from_secs(30),
    }
}

fn error(auth: &AuthConfig, environment: Environment) -> String {
    let dir = tempfile::tempdir().unwrap();
    Verifier::from_config(auth, environment, dir.path()).unwrap_err().to_string()
}

#[test]
fn production_without_a_key_is_refused_naming_the_setting() {
    let message = error(&auth(JwtAlgorithm::Hs256), Environment::Production);
    assert!(message.contains("PARLEY_JWT_SECRET"), "{message}");
    assert!(!message.contains('\n'));
}

#[test]
fn production_never_creates_a_development_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = auth(JwtAlgorithm::Hs256);
    assert!(Verifier::from_config(&config, Environment::Production, dir.path()).is_err());
    assert!(Signer::from_config(&config, Environment::Production, dir.path(), None).is_err());
    assert!(!dir.path().join(DEV_SECRET_FILE).exists());
}

#[test]
fn a_short_secret_is_refused() {
    let mut config = auth(JwtAlgorithm::Hs256);
    config.jwt_secret = Some("x".repeat(MIN_SECRET_BYTES - 1));
    let message = error(&config, Environment::Production);
    assert!(message.contains("too short"), "{message}");
    config.jwt_secret = Some("x".repeat(MIN_SECRET_BYTES));
    let dir = tempfile::tempdir().unwrap();
    assert!(Verifier::from_config(&config, Environment::Production, dir.path()).is_ok());
}

#[test]
fn public_key_algorithms_need_their_file_and_no_secret() {
    let config = auth(JwtAlgorithm::Rs256);
    let message = error(&config, Environment::Development);
    assert!(message.contains("PARLEY_JWT_PUBLIC_KEY_FILE"), "{message}");

    let mut config = auth(JwtAlgorithm::EdDsa);
    config.jwt_public_key_file = Some(fixture("ed25519-a.pub.pem"));
    config.jwt_secret = Some("s".repeat(40));
    let message = error(&config, Environment::Development);
    assert!(message.contains("unset one"), "{message}");

    let mut config = auth(JwtAlgorithm::Hs256);
    config.jwt_public_key_file = Some(fixture("rsa-a.pub.pem"));
    let message = error(&config, Environment::Development);
    assert!(message.contains("PARLEY_JWT_ALGORITHM"), "{message}");
}

#[test]
fn an_unreadable_public_key_file_is_named() {
    let mut config = auth(JwtAlgorithm::Rs256);
    config.jwt_public_key_file = Some("/nonexistent/idp.pem".into());
    let message = error(&config, Environment::Production);
    assert!(message.contains("PARLEY_JWT_PUBLIC_KEY_FILE /nonexistent/idp.pem"), "{message}");
}

#[test]
fn a_public_key_file_of_the_wrong_kind_is_named() {
    let mut config = auth(JwtAlgorithm::Rs256);
    for name in ["ed25519-a.pub.pem", "rsa-a.pem", "README.md"] {
        config.jwt_public_key_file = Some(fixture(name));
        let message = error(&config, Environment::Production);
        assert!(message.contains(name) && message.contains("is not an RS256"), "{message}");
    }
}

#[test]
fn a_configured_public_key_verifies_with_the_configured_checks() {
    let mut config = auth(JwtAlgorithm::Rs256);
    config.jwt_public_key_file = Some(fixture("rsa-a.pub.pem"));
    config.jwt_audience = Some("parley".into());
    let dir = tempfile::tempdir().unwrap();
    let verifier = Verifier::from_config(&config, Environment::Production, dir.path()).unwrap();
    let signer =
        Signer::from_config(&config, Environment::Production, dir.path(), Some(&fixture("rsa-a.pem")))
            .unwrap();
    let user = UserId::parse("abe").unwrap();
    let token = signer.mint(&user, Role::Applicant, None, Duration::from_secs(60)).unwrap();
    assert_eq!(verifier.verify(&token).unwrap().user_id, user);
    let stranger =
        Signer::from_private_key_pem(JwtAlgorithm::Rs256, &std::fs::read(fixture("rsa-a.pem")).unwrap())
            .unwrap();
    let no_audience = stranger.mint(&user, Role::Applicant, None, Duration::from_secs(60)).unwrap();
    assert_eq!(verifier.verify(&no_audience), Err(TokenError::MissingClaim("aud".into())));
}

#[test]
fn the_development_secret_is_created_once_private_and_shared_by_signer_and_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = auth(JwtAlgorithm::Hs256);
    let signer = Signer::from_config(&config, Environment::Development, &data_dir, None).unwrap();
    let path = data_dir.join(DEV_SECRET_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64, "32 bytes in hex");
    assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let verifier = Verifier::from_config(&config, Environment::Development, &data_dir).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "reused");
    let user = UserId::parse("abe").unwrap();
    let token = signer.mint(&user, Role::Applicant, None, Duration::from_secs(60)).unwrap();
    assert!(verifier.verify(&token).is_ok());
    // The file's text is the key, so it also works as PARLEY_JWT_SECRET.
    assert!(Verifier::hs256(text.trim().as_bytes()).verify(&token).is_ok());
}

#[test]
fn each_data_directory_gets_its_own_development_secret() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = auth(JwtAlgorithm::Hs256);
    let signer = Signer::from_config(&config, Environment::Development, a.path(), None).unwrap();
    let verifier = Verifier::from_config(&config, Environment::Development, b.path()).unwrap();
    let user = UserId::parse("abe").unwrap();
    let token = signer.mint(&user, Role::Applicant, None, Duration::from_secs(60)).unwrap();
    assert_eq!(verifier.verify(&token), Err(TokenError::BadSignature));
}

#[test]
fn a_damaged_development_secret_is_named_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DEV_SECRET_FILE), "short\n").unwrap();
    let message = error_in(dir.path());
    assert!(message.contains(DEV_SECRET_FILE) && message.contains("delete it"), "{message}");
    assert_eq!(std::fs::read_to_string(dir.path().join(DEV_SECRET_FILE)).unwrap(), "short\n");
}

fn error_in(data_dir: &Path) -> String {
    Verifier::from_config(&auth(JwtAlgorithm::Hs256), Environment::Development, data_dir)
        .unwrap_err()
        .to_string()
}

#[test]
fn signing_with_a_public_key_algorithm_needs_the_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = auth(JwtAlgorithm::EdDsa);
    let message =
        Signer::from_config(&config, Environment::Development, dir.path(), None).unwrap_err().to_string();
    assert!(message.contains("--private-key-file"), "{message}");
    let signer =
        Signer::from_config(&config, Environment::Development, dir.path(), Some(&fixture("ed25519-a.pem")));
    assert!(signer.is_ok());
}
