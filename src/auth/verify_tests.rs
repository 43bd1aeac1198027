//! Each rule of token verification, one test each.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::*;
use crate::config::JwtAlgorithm;

const SECRET: &[u8] = b"unit-test-secret-0123456789abcdef";
const RSA_A: &[u8] = include_bytes!("../../tests/fixtures/keys/rsa-a.pem");
const RSA_A_PUB: &[u8] = include_bytes!("../../tests/fixtures/keys/rsa-a.pub.pem");
const RSA_B: &[u8] = include_bytes!("../../tests/fixtures/keys/rsa-b.pem");
const ED_A: &[u8] = include_bytes!("../../tests/fixtures/keys/ed25519-a.pem");
const ED_A_PUB: &[u8] = include_bytes!("../../tests/fixtures/keys/ed25519-a.pub.pem");

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Valid claims for `abe`, expiring in an hour; tests change one thing.
fn claims() -> Value {
    json!({"sub": "abe", "role": "applicant", "name": "Abe", "exp": now() + 3600})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn hs256(claims: &Value) -> String {
    Signer::hs256(SECRET).sign(claims).unwrap()
}

fn verify(claims: &Value) -> Result<Principal, TokenError> {
    Verifier::hs256(SECRET).verify(&hs256(claims))
}

#[test]
fn a_valid_hs256_token_yields_its_principal() {
    let exp = now() + 3600;
    let principal = verify(&with(claims(), "exp", json!(exp))).unwrap();
    assert_eq!(principal.user_id.as_str(), "abe");
    assert_eq!(principal.role, Role::Applicant);
    assert_eq!(principal.name.as_deref(), Some("Abe"));
    assert_eq!(principal.expires_at.timestamp(), exp);
}

#[test]
fn minted_tokens_verify_with_the_same_secret() {
    let user = UserId::parse("rita").unwrap();
    let token = Signer::hs256(SECRET).mint(&user, Role::Recruiter, None, Duration::from_secs(60)).unwrap();
    let principal = Verifier::hs256(SECRET).verify(&token).unwrap();
    assert_eq!(principal.user_id, user);
    assert_eq!(principal.role, Role::Recruiter);
    assert_eq!(principal.name, None);
    let left = principal.expires_at.timestamp() - now();
    assert!((55..=60).contains(&left), "{left}");
}

#[test]
fn an_expired_token_is_refused() {
    let refused = verify(&with(claims(), "exp", json!(now() - 120)));
    assert_eq!(refused, Err(TokenError::Expired));
    assert_eq!(TokenError::Expired.to_string(), "token expired");
}

#[test]
fn expiry_within_the_leeway_is_tolerated_and_beyond_it_is_not() {
    let token = hs256(&with(claims(), "exp", json!(now() - 10)));
    assert!(Verifier::hs256(SECRET).verify(&token).is_ok(), "30 s default");
    let strict = Verifier::hs256(SECRET).with_leeway(Duration::from_secs(5));
    assert_eq!(strict.verify(&token), Err(TokenError::Expired));
}

#[test]
fn a_token_whose_nbf_is_in_the_future_is_refused() {
    let refused = verify(&with(claims(), "nbf", json!(now() + 600)));
    assert_eq!(refused, Err(TokenError::NotYetValid));
    assert!(verify(&with(claims(), "nbf", json!(now() + 10))).is_ok(), "within leeway");
    assert!(verify(&with(claims(), "nbf", json!(now() - 10))).is_ok());
}

#[test]
fn a_token_without_exp_is_refused() {
    let refused = verify(&without(claims(), "exp"));
    assert_eq!(refused, Err(TokenError::MissingClaim("exp".into())));
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let token = Signer::hs256(b"another-secret-0123456789abcdefgh").sign(&claims()).unwrap();
    let refused = Verifier::hs256(SECRET).verify(&token);
    assert_eq!(refused, Err(TokenError::BadSignature));
    assert_eq!(TokenError::BadSignature.to_string(), "token signature invalid");
}

/// A token with `{"alg":"none","typ":"JWT"}` and an empty signature; the payload is borrowed
/// from a signed token.
fn unsigned(claims: &Value) -> String {
    const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let signed = hs256(claims);
    let payload = signed.split('.').nth(1).unwrap();
    format!("{NONE_HEADER}.{payload}.")
}

#[test]
fn an_unsigned_alg_none_token_is_refused() {
    let token = unsigned(&claims());
    let refused = Verifier::hs256(SECRET).verify(&token);
    assert_eq!(refused, Err(TokenError::Malformed { expected: "HS256" }));
}

#[test]
fn an_hs256_token_signed_with_the_rsa_public_key_is_refused_when_rs256_is_configured() {
    // The classic key confusion: a verifier that let the header pick HMAC would check this
    // signature with the public key bytes as the secret, and accept it.
    let forged = Signer::hs256(RSA_A_PUB).sign(&claims()).unwrap();
    let verifier = Verifier::from_public_key_pem(JwtAlgorithm::Rs256, RSA_A_PUB).unwrap();
    assert_eq!(verifier.verify(&forged), Err(TokenError::WrongAlgorithm { expected: "RS256" }));
}

#[test]
fn rs256_tokens_verify_with_the_public_key_of_their_signer_only() {
    let verifier = Verifier::from_public_key_pem(JwtAlgorithm::Rs256, RSA_A_PUB).unwrap();
    let signer = Signer::from_private_key_pem(JwtAlgorithm::Rs256, RSA_A).unwrap();
    let principal = verifier.verify(&signer.sign(&claims()).unwrap()).unwrap();
    assert_eq!(principal.user_id.as_str(), "abe");

    let other = Signer::from_private_key_pem(JwtAlgorithm::Rs256, RSA_B).unwrap();
    let refused = verifier.verify(&other.sign(&claims()).unwrap());
    assert_eq!(refused, Err(TokenError::BadSignature));
}

#[test]
fn eddsa_tokens_verify_with_the_ed25519_public_key() {
    let verifier = Verifier::from_public_key_pem(JwtAlgorithm::EdDsa, ED_A_PUB).unwrap();
    let signer = Signer::from_private_key_pem(JwtAlgorithm::EdDsa, ED_A).unwrap();
    assert!(verifier.verify(&signer.sign(&claims()).unwrap()).is_ok());

    let rs256 = Signer::from_private_key_pem(JwtAlgorithm::Rs256, RSA_A).unwrap();
    let refused = verifier.verify(&rs256.sign(&claims()).unwrap());
    assert_eq!(refused, Err(TokenError::WrongAlgorithm { expected: "EdDSA" }));
}

#[test]
fn keys_that_do_not_suit_the_algorithm_are_not_accepted() {
    assert!(Verifier::from_public_key_pem(JwtAlgorithm::Rs256, ED_A_PUB).is_none());
    assert!(Verifier::from_public_key_pem(JwtAlgorithm::EdDsa, RSA_A_PUB).is_none());
    assert!(Verifier::from_public_key_pem(JwtAlgorithm::Rs256, b"not a key").is_none());
    assert!(Signer::from_private_key_pem(JwtAlgorithm::EdDsa, RSA_A).is_none());
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let verifier = Verifier::hs256(SECRET)
        .with_issuer(Some("https://idp.example".into()))
        .with_audience(Some("parley".into()));
    let good = with(with(claims(), "iss", json!("https://idp.example")), "aud", json!(["other", "parley"]));
    assert!(verifier.verify(&hs256(&good)).is_ok());

    let check = |claims: Value| verifier.verify(&hs256(&claims));
    let bad_iss = with(good.clone(), "iss", json!("https://evil.example"));
    assert_eq!(check(bad_iss), Err(TokenError::WrongIssuer));
    let bad_aud = with(good.clone(), "aud", json!("other"));
    assert_eq!(check(bad_aud), Err(TokenError::WrongAudience));
    let no_iss = without(good.clone(), "iss");
    assert_eq!(check(no_iss), Err(TokenError::MissingClaim("iss".into())));
    let no_aud = without(good, "aud");
    assert_eq!(check(no_aud), Err(TokenError::MissingClaim("aud".into())));
}

#[test]
fn issuer_and_audience_are_not_checked_when_not_configured() {
    let token = with(with(claims(), "iss", json!("https://anyone.example")), "aud", json!("anything"));
    assert!(verify(&token).is_ok());
}

#[test]
fn a_sub_that_is_not_a_user_id_is_refused() {
    for sub in [json!("has space"), json!(""), json!("x".repeat(65)), json!(42)] {
        let refused = verify(&with(claims(), "sub", sub.clone()));
        assert!(
            matches!(&refused, Err(TokenError::InvalidClaim { claim, .. }) if claim == "sub"),
            "{sub}: {refused:?}"
        );
    }
    let refused = verify(&without(claims(), "sub"));
    assert_eq!(refused, Err(TokenError::MissingClaim("sub".into())));
}

#[test]
fn an_unknown_role_is_refused_without_echoing_it() {
    let refused = verify(&with(claims(), "role", json!("superadmin"))).unwrap_err();
    assert!(matches!(&refused, TokenError::InvalidClaim { claim, .. } if claim == "role"), "{refused:?}");
    assert!(!refused.to_string().contains("superadmin"), "{refused}");
    let refused = verify(&without(claims(), "role"));
    assert_eq!(refused, Err(TokenError::MissingClaim("role".into())));
}

#[test]
fn every_role_of_the_contract_is_accepted() {
    for (text, role) in [
        ("recruiter", Role::Recruiter),
        ("applicant", Role::Applicant),
        ("service", Role::Service),
        ("analyst", Role::Analyst),
    ] {
        let principal = verify(&with(claims(), "role", json!(text))).unwrap();
        assert_eq!(principal.role, role);
    }
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "abc", "a.b.c", "a.b", "....."] {
        assert_eq!(
            Verifier::hs256(SECRET).verify(token),
            Err(TokenError::Malformed { expected: "HS256" }),
            "{token:?}"
        );
    }
}

#[test]
fn keys_never_reach_the_debug_output() {
    let text = format!("{:?} {:?}", Verifier::hs256(SECRET), Signer::hs256(SECRET));
    assert!(!text.contains("unit-test-secret"), "{text}");
}
