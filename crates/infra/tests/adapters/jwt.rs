//! `JwtTokenIssuer` and `JwtTokenVerifier` with HS256.

use std::collections::BTreeSet;
use std::sync::Arc;

use auth_domain::auth::{AccessClaims, TokenIssuer as _, TokenRejection, TokenVerifier as _};
use auth_domain::common::Clock;
use auth_domain::session::{AuthMethods, SessionId};
use auth_domain::user::{Role, UserId};
use auth_infra::jwt::{
    JwtIdentity, JwtKeys, JwtTokenIssuer, JwtTokenVerifier, MIN_HS256_SECRET_BYTES,
    NOT_BEFORE_LEEWAY_SECS,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";
const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210-test";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "auth-module";
const LIFETIME_SECS: i64 = 900;

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A fixed "now" with sub-second digits, which tokens cannot carry.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_867_200, 123_456_000).expect("a valid instant")
}

fn settings() -> JwtIdentity {
    JwtIdentity {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
    }
}

fn keys() -> Arc<JwtKeys> {
    Arc::new(JwtKeys::hs256(SECRET).expect("a long enough secret"))
}

fn issuer() -> JwtTokenIssuer {
    JwtTokenIssuer::new(keys(), settings())
}

/// A verifier whose clock reads `at`.
fn verifier_at(at: DateTime<Utc>) -> JwtTokenVerifier {
    JwtTokenVerifier::new(keys(), &settings(), Arc::new(FixedClock(at)))
}

fn verifier() -> JwtTokenVerifier {
    verifier_at(now())
}

fn claims(role: Role) -> AccessClaims {
    AccessClaims {
        user_id: UserId(Uuid::now_v7()),
        session_id: SessionId(Uuid::now_v7()),
        role,
        issued_at: now(),
        expires_at: now() + Duration::seconds(LIFETIME_SECS),
        token_id: Uuid::now_v7(),
        amr: AuthMethods::PasswordAndOtp,
    }
}

/// What the verifier gives back for `claims`: times to the second.
fn as_verified(claims: &AccessClaims) -> AccessClaims {
    AccessClaims {
        issued_at: claims.issued_at.trunc_subsecs(0),
        expires_at: claims.expires_at.trunc_subsecs(0),
        ..claims.clone()
    }
}

/// Valid wire claims issued at `now()`, to alter one at a time.
fn wire_claims() -> Map<String, Value> {
    let iat = now().timestamp();
    let Value::Object(claims) = json!({
        "sub": Uuid::now_v7().to_string(),
        "sid": Uuid::now_v7().to_string(),
        "iat": iat,
        "nbf": iat,
        "exp": iat + LIFETIME_SECS,
        "jti": Uuid::now_v7().to_string(),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "role": "user",
    }) else {
        unreachable!("an object literal")
    };
    claims
}

/// Signs `claims` with `jsonwebtoken` directly.
fn sign(
    algorithm: Algorithm,
    kid: Option<&str>,
    claims: &Map<String, Value>,
    secret: &[u8],
) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_secret(secret).expect("an HMAC key");
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}

/// Signs `claims` as the server would: HS256, the server's secret and `kid`.
fn sign_valid(claims: &Map<String, Value>) -> String {
    sign(Algorithm::HS256, Some(keys().signing_kid()), claims, SECRET)
}

/// `header.payload` with a valid HS256 signature of the server's secret,
/// whatever the payload.
fn signed_raw(header: &str, payload: &str) -> String {
    let message = format!("{header}.{payload}");
    let key = EncodingKey::from_secret(SECRET).expect("an HMAC key");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("signed");
    format!("{message}.{signature}")
}

fn encode_part(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).expect("serialisable"))
}

fn decode_part(part: &str) -> Map<String, Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON object")
}

/// The three dot-separated parts of a compact JWS.
fn parts(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().expect("three parts")
}

#[test]
fn issued_tokens_verify_to_the_same_claims() {
    for role in [Role::User, Role::Admin] {
        let claims = claims(role);
        let token = issuer().issue(&claims).expect("issued");
        let verified = verifier().verify(&token).expect("verified");
        assert_eq!(verified, as_verified(&claims));
    }
}

#[test]
fn issued_tokens_carry_the_kid_and_exactly_the_documented_claims() {
    let claims = claims(Role::Admin);
    let token = issuer().issue(&claims).expect("issued");
    let [header, payload, signature] = parts(&token);
    assert!(!signature.is_empty());

    let header = decode_part(header);
    assert_eq!(header.get("alg"), Some(&json!("HS256")));
    assert_eq!(header.get("kid"), Some(&json!(keys().signing_kid())));

    let payload = decode_part(payload);
    let names: BTreeSet<&str> = payload.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "sub", "sid", "iat", "nbf", "exp", "jti", "iss", "aud", "role", "amr"
        ])
    );
    let iat = now().timestamp();
    assert_eq!(payload["sub"], json!(claims.user_id.to_string()));
    assert_eq!(payload["sid"], json!(claims.session_id.to_string()));
    assert_eq!(payload["iat"], json!(iat));
    assert_eq!(payload["nbf"], json!(iat));
    assert_eq!(payload["exp"], json!(iat + LIFETIME_SECS));
    assert_eq!(payload["jti"], json!(claims.token_id.to_string()));
    assert_eq!(payload["iss"], json!(ISSUER));
    assert_eq!(payload["aud"], json!(AUDIENCE));
    assert_eq!(payload["role"], json!("admin"));
}

#[test]
fn the_kid_depends_on_the_secret() {
    let other = JwtKeys::hs256(OTHER_SECRET).expect("a long enough secret");
    assert_eq!(keys().signing_kid(), keys().signing_kid());
    assert_ne!(keys().signing_kid(), other.signing_kid());
    assert_eq!(keys().algorithm(), auth_infra::jwt::SigningAlgorithm::HS256);
}

#[test]
fn hand_signed_valid_tokens_are_accepted() {
    // The baseline of the rejection tests below: only the altered part differs.
    let claims = wire_claims();
    let verified = verifier().verify(&sign_valid(&claims)).expect("verified");
    assert_eq!(verified.user_id.to_string(), claims["sub"]);
    assert_eq!(verified.session_id.to_string(), claims["sid"]);
    assert_eq!(verified.token_id.to_string(), claims["jti"]);
    assert_eq!(verified.role, Role::User);
    assert_eq!(verified.issued_at, now().trunc_subsecs(0));
}

#[test]
fn expired_tokens_are_rejected() {
    let issued = claims(Role::User);
    let token = issuer().issue(&issued).expect("issued");
    // Accepted up to the last second before `exp`…
    let last_valid = issued.expires_at.trunc_subsecs(0) - Duration::milliseconds(1);
    assert!(verifier_at(last_valid).verify(&token).is_ok());
    // …refused from `exp` on: no leeway.
    for at in [
        issued.expires_at.trunc_subsecs(0),
        issued.expires_at,
        issued.expires_at + Duration::days(1),
    ] {
        assert_eq!(
            verifier_at(at).verify(&token),
            Err(TokenRejection::Expired),
            "{at}"
        );
    }

    let mut claims = wire_claims();
    claims["exp"] = json!(now().timestamp() - 1);
    claims["iat"] = json!(now().timestamp() - LIFETIME_SECS);
    claims["nbf"] = claims["iat"].clone();
    assert_eq!(
        verifier().verify(&sign_valid(&claims)),
        Err(TokenRejection::Expired)
    );
}

#[test]
fn not_before_allows_only_a_little_clock_skew() {
    let at = |offset: i64| {
        let mut claims = wire_claims();
        let start = now().timestamp() + offset;
        claims["iat"] = json!(start);
        claims["nbf"] = json!(start);
        claims["exp"] = json!(start + LIFETIME_SECS);
        sign_valid(&claims)
    };
    assert!(verifier().verify(&at(10)).is_ok());
    assert!(verifier().verify(&at(NOT_BEFORE_LEEWAY_SECS)).is_ok());
    for offset in [NOT_BEFORE_LEEWAY_SECS + 1, 3_600] {
        assert_eq!(
            verifier().verify(&at(offset)),
            Err(TokenRejection::NotYetValid),
            "{offset}"
        );
    }

    // `nbf` alone in the future counts too.
    let mut claims = wire_claims();
    claims["nbf"] = json!(now().timestamp() + NOT_BEFORE_LEEWAY_SECS + 1);
    assert_eq!(
        verifier().verify(&sign_valid(&claims)),
        Err(TokenRejection::NotYetValid)
    );
}

#[test]
fn another_issuer_is_rejected() {
    let mut claims = wire_claims();
    claims["iss"] = json!("https://evil.example.com");
    assert_eq!(
        verifier().verify(&sign_valid(&claims)),
        Err(TokenRejection::WrongIssuer)
    );
}

#[test]
fn another_audience_is_rejected() {
    let mut claims = wire_claims();
    claims["aud"] = json!("another-service");
    assert_eq!(
        verifier().verify(&sign_valid(&claims)),
        Err(TokenRejection::WrongAudience)
    );
}

#[test]
fn another_secret_under_the_right_kid_is_a_bad_signature() {
    let token = sign(
        Algorithm::HS256,
        Some(keys().signing_kid()),
        &wire_claims(),
        OTHER_SECRET,
    );
    assert_eq!(verifier().verify(&token), Err(TokenRejection::BadSignature));
}

#[test]
fn an_unknown_or_missing_kid_is_rejected() {
    let other = JwtKeys::hs256(OTHER_SECRET).expect("a long enough secret");
    let foreign = sign(
        Algorithm::HS256,
        Some(other.signing_kid()),
        &wire_claims(),
        OTHER_SECRET,
    );
    assert_eq!(verifier().verify(&foreign), Err(TokenRejection::UnknownKey));

    // Right secret, but a `kid` the server never issued, or none at all.
    let made_up = sign(Algorithm::HS256, Some("made-up"), &wire_claims(), SECRET);
    assert_eq!(verifier().verify(&made_up), Err(TokenRejection::UnknownKey));
    let without = sign(Algorithm::HS256, None, &wire_claims(), SECRET);
    assert_eq!(verifier().verify(&without), Err(TokenRejection::UnknownKey));
}

#[test]
fn alg_none_is_rejected() {
    let payload = encode_part(&Value::Object(wire_claims()));
    for alg in ["none", "None", "NONE"] {
        let header = encode_part(&json!({
            "alg": alg,
            "typ": "JWT",
            "kid": keys().signing_kid(),
        }));
        let token = format!("{header}.{payload}.");
        let rejection = verifier().verify(&token).expect_err("an unsigned token");
        assert!(
            matches!(
                rejection,
                TokenRejection::WrongAlgorithm | TokenRejection::Malformed
            ),
            "{alg}: {rejection:?}"
        );
    }
}

#[test]
fn other_algorithms_are_rejected() {
    // HS/RS confusion: an RS256 header, "signed" with the HS256 secret.
    let valid = sign_valid(&wire_claims());
    let [_, payload, signature] = parts(&valid);
    for alg in ["RS256", "ES256", "EdDSA", "PS256"] {
        let header = encode_part(&json!({
            "alg": alg,
            "typ": "JWT",
            "kid": keys().signing_kid(),
        }));
        let token = format!("{header}.{payload}.{signature}");
        assert_eq!(
            verifier().verify(&token),
            Err(TokenRejection::WrongAlgorithm),
            "{alg}"
        );
    }

    // Another HMAC with the right secret and kid is still not the configured one.
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(
            algorithm,
            Some(keys().signing_kid()),
            &wire_claims(),
            SECRET,
        );
        assert_eq!(
            verifier().verify(&token),
            Err(TokenRejection::WrongAlgorithm),
            "{algorithm:?}"
        );
    }
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    let token = issuer().issue(&claims(Role::User)).expect("issued");
    let [header, payload, signature] = parts(&token);
    let mut claims = decode_part(payload);
    assert_eq!(claims["role"], json!("user"));
    claims["role"] = json!("admin");
    let forged = format!(
        "{header}.{}.{signature}",
        encode_part(&Value::Object(claims))
    );
    assert_eq!(
        verifier().verify(&forged),
        Err(TokenRejection::BadSignature)
    );

    // A tampered signature too.
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    bytes[0] ^= 1;
    let forged = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(
        verifier().verify(&forged),
        Err(TokenRejection::BadSignature)
    );
}

#[test]
fn garbage_is_malformed() {
    let valid = issuer().issue(&claims(Role::User)).expect("issued");
    let [header, payload, _] = parts(&valid);
    for garbage in [
        String::new(),
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        "...".to_owned(),
        format!("{header}.{payload}"),
        "eyJhbGciOiJIUzI1NiJ9".to_owned(),
        // Correctly signed, but the payload is not base64url, not JSON, or
        // not an object.
        signed_raw(header, "!!!"),
        signed_raw(header, &URL_SAFE_NO_PAD.encode("not json")),
        signed_raw(header, &URL_SAFE_NO_PAD.encode("[1, 2, 3]")),
    ] {
        assert_eq!(
            verifier().verify(&garbage),
            Err(TokenRejection::Malformed),
            "{garbage:?}"
        );
    }
}

#[test]
fn missing_or_mistyped_claims_are_malformed() {
    for claim in ["sub", "sid", "jti", "role", "exp", "nbf", "iat"] {
        let mut claims = wire_claims();
        claims.remove(claim);
        assert_eq!(
            verifier().verify(&sign_valid(&claims)),
            Err(TokenRejection::Malformed),
            "without {claim}"
        );
    }
    for (claim, value) in [
        ("sub", json!("not-a-uuid")),
        ("sid", json!(42)),
        ("role", json!("root")),
        ("exp", json!("tomorrow")),
    ] {
        let mut claims = wire_claims();
        claims[claim] = value;
        assert_eq!(
            verifier().verify(&sign_valid(&claims)),
            Err(TokenRejection::Malformed),
            "{claim}"
        );
    }
}

#[test]
fn short_secrets_are_refused() {
    assert!(JwtKeys::hs256(b"").is_err());
    assert!(JwtKeys::hs256(&[7; MIN_HS256_SECRET_BYTES - 1]).is_err());
    assert!(JwtKeys::hs256(&[7; MIN_HS256_SECRET_BYTES]).is_ok());
    assert_eq!(MIN_HS256_SECRET_BYTES, 32);
}
