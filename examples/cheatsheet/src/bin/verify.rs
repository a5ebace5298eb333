//! Verify an Auth Module access token in another service with jsonwebtoken 12
//! (features `aws_lc_rs` or `rust_crypto`, exactly one) and the server's JWKS.
use anyhow::Context as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    role: String,
}

/// Checks the signature with the key named by the token's `kid`, then `iss`,
/// `aud`, `exp` and `nbf`. In a real service, fetch the JWKS once and keep
/// it for 5 minutes (its `Cache-Control`), fetching again for an unknown `kid`.
fn verify(token: &str, jwks: &JwkSet) -> anyhow::Result<Claims> {
    let kid = decode_header(token)?.kid.context("the token has no kid")?;
    let jwk = jwks.find(&kid).context("no key with the token's kid")?;
    let key = DecodingKey::from_jwk(jwk)?;

    let mut validation = Validation::new(Algorithm::EdDSA); // never from the token
    validation.set_issuer(&["auth-module"]); // AUTH__JWT__ISSUER
    validation.set_audience(&["auth-module"]); // AUTH__JWT__AUDIENCE
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 30; // seconds of clock skew between hosts
    Ok(decode::<Claims>(token, &key, &validation)?.claims)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("ACCESS_TOKEN").context("set ACCESS_TOKEN")?;

    let jwks: JwkSet = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let claims = verify(&token, &jwks).context("refused")?;
    println!(
        "user {}, role {}, session {}",
        claims.sub, claims.role, claims.sid
    );
    Ok(())
}
