//! JSON Web Token access tokens.
//!
//! The verifier pins the configured algorithm (no `alg: none`, no HS/RS
//! confusion), looks the key up by `kid`, and checks `iss`, `aud`, `exp` and
//! `nbf` against the injected [`Clock`]. `exp` gets no leeway (a token expiring
//! a little early harms nobody); `nbf`/`iat` get [`NOT_BEFORE_LEEWAY_SECS`] so
//! that instances whose clocks differ slightly accept each other's tokens.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use auth_domain::auth::{
    AccessClaims, IssueTokenError, TokenIssuer, TokenRejection, TokenVerifier,
};
use auth_domain::common::Clock;
use auth_domain::session::{AuthMethods, SessionId};
use auth_domain::user::UserId;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How far in the future `nbf` may be, in seconds, to tolerate clock skew
/// between instances.
pub const NOT_BEFORE_LEEWAY_SECS: i64 = 30;

/// The shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the
/// hash output size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// The access-token signing algorithms the service supports; the verifier
/// accepts only the one configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    #[default]
    HS256,
    /// Ed25519 from a PEM private key.
    EdDSA,
    /// RSA PKCS#1 v1.5 with SHA-256 from a PEM private key.
    RS256,
}

impl SigningAlgorithm {
    /// The name used in settings, JWT headers and JWKs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }

    /// Whether it signs with a private key (and publishes a public one).
    #[must_use]
    pub const fn is_asymmetric(self) -> bool {
        !matches!(self, Self::HS256)
    }

    const fn jwt(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::EdDSA => Algorithm::EdDSA,
            Self::RS256 => Algorithm::RS256,
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> anyhow::Result<Self> {
        [Self::HS256, Self::EdDSA, Self::RS256]
            .into_iter()
            .find(|algorithm| algorithm.as_str() == name)
            .ok_or_else(|| {
                anyhow::anyhow!("the algorithm must be HS256, EdDSA or RS256, not {name:?}")
            })
    }
}

/// Signing and verification keys for one algorithm.
pub struct JwtKeys {
    algorithm: Algorithm,
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    /// The public keys, current first, for `/.well-known/jwks.json`; empty
    /// for HS256.
    published: Vec<Jwk>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .field("signing_kid", &self.signing_kid)
            .field("verifying_kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// HS256 with a shared secret. The `kid` is derived from the secret by a
    /// one-way hash, so rotating the secret changes it.
    ///
    /// # Errors
    /// When the secret is shorter than [`MIN_HS256_SECRET_BYTES`].
    pub fn hs256(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_HS256_SECRET_BYTES,
            "the HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes"
        );
        Self::hs256_of_any_length(secret)
    }

    /// [`JwtKeys::hs256`] without the length floor, for development and
    /// tests, where a short shared secret is a convenience: a secret shorter
    /// than the hash output makes the signature as weak as the secret.
    ///
    /// # Errors
    /// When the secret is empty.
    pub fn hs256_of_any_length(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(!secret.is_empty(), "the HS256 secret is empty");
        let mut digest = Sha256::new();
        digest.update(b"auth-module hs256 kid\0");
        digest.update(secret);
        let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.finalize()[..12]);
        let signing = EncodingKey::from_secret(secret).context("invalid HS256 secret")?;
        let verifying = DecodingKey::from_secret(secret).context("invalid HS256 secret")?;
        Ok(Self {
            algorithm: Algorithm::HS256,
            signing_kid: kid.clone(),
            signing,
            verifying: HashMap::from([(kid, verifying)]),
            published: Vec::new(),
        })
    }

    /// EdDSA (Ed25519) or RS256 from a PEM private key (PKCS#8; PKCS#1 too
    /// for RSA), plus retired private keys that still verify and stay
    /// published during a rotation. Each `kid` is the key's RFC 7638
    /// thumbprint (SHA-256, base64url).
    ///
    /// # Errors
    /// When the algorithm is not asymmetric, or a PEM is not a private key of
    /// that algorithm.
    pub fn asymmetric(
        algorithm: SigningAlgorithm,
        current_pem: &[u8],
        retired_pems: &[Vec<u8>],
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            algorithm.is_asymmetric(),
            "asymmetric keys need EdDSA or RS256, not {algorithm}"
        );
        let algorithm = algorithm.jwt();
        let (signing, current) =
            public_key(algorithm, current_pem).context("the current private key is not usable")?;
        let signing_kid = current.kid.clone();
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for (index, key) in std::iter::once(Ok(current))
            .chain(retired_pems.iter().enumerate().map(|(i, pem)| {
                public_key(algorithm, pem)
                    .map(|(_, key)| key)
                    .with_context(|| format!("retired key #{} is not usable", i + 1))
            }))
            .enumerate()
        {
            let key = key?;
            if verifying.contains_key(&key.kid) {
                tracing::warn!(kid = %key.kid, index, "the same key is configured twice");
                continue;
            }
            verifying.insert(key.kid.clone(), key.decoding);
            published.push(key.jwk);
        }
        Ok(Self {
            algorithm,
            signing_kid,
            signing,
            verifying,
            published,
        })
    }

    /// The public keys as a JWK Set: `{"keys": [...]}` with `kid`, `alg` and
    /// `use: "sig"` on each; no keys for HS256.
    #[must_use]
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.published.clone(),
        }
    }

    /// The algorithm every token is signed and verified with.
    #[must_use]
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self.algorithm {
            Algorithm::EdDSA => SigningAlgorithm::EdDSA,
            Algorithm::RS256 => SigningAlgorithm::RS256,
            // `hs256` and `asymmetric` are the only constructors.
            _ => SigningAlgorithm::HS256,
        }
    }

    /// The `kid` new tokens carry.
    #[must_use]
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }
}

/// A public key derived from a private PEM.
struct PublicKey {
    kid: String,
    decoding: DecodingKey,
    jwk: Jwk,
}

fn public_key(algorithm: Algorithm, pem: &[u8]) -> anyhow::Result<(EncodingKey, PublicKey)> {
    let encoding = match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .context("not a PEM private key of the configured algorithm")?;
    let mut jwk =
        Jwk::from_encoding_key(&encoding, algorithm).context("could not derive the public key")?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .context("could not compute the key thumbprint")?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let decoding = DecodingKey::from_jwk(&jwk).context("could not build the verifying key")?;
    Ok((encoding, PublicKey { kid, decoding, jwk }))
}

/// Issuer and audience, written into and required of every token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
}

/// The claims as they travel.
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    sub: String,
    sid: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    iss: String,
    aud: String,
    role: String,
    /// RFC 8176 authentication methods; tokens from before it was added
    /// have none and count as a password log-in.
    #[serde(default)]
    amr: Vec<String>,
}

/// Signs access tokens.
#[derive(Debug, Clone)]
pub struct JwtTokenIssuer {
    keys: Arc<JwtKeys>,
    settings: JwtIdentity,
}

impl JwtTokenIssuer {
    /// An issuer signing with `keys`.
    #[must_use]
    pub fn new(keys: Arc<JwtKeys>, settings: JwtIdentity) -> Self {
        Self { keys, settings }
    }
}

impl TokenIssuer for JwtTokenIssuer {
    fn issue(&self, claims: &AccessClaims) -> Result<String, IssueTokenError> {
        let mut header = Header::new(self.keys.algorithm);
        header.kid = Some(self.keys.signing_kid.clone());
        let wire = WireClaims {
            sub: claims.user_id.to_string(),
            sid: claims.session_id.to_string(),
            iat: claims.issued_at.timestamp(),
            nbf: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            jti: claims.token_id.to_string(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            role: claims.role.as_str().to_owned(),
            amr: claims.amr.names().iter().map(|&m| m.to_owned()).collect(),
        };
        jsonwebtoken::encode(&header, &wire, &self.keys.signing)
            .map_err(|e| IssueTokenError(e.into()))
    }
}

/// Verifies access tokens.
#[derive(Clone)]
pub struct JwtTokenVerifier {
    keys: Arc<JwtKeys>,
    validation: Validation,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JwtTokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokenVerifier")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl JwtTokenVerifier {
    /// A verifier accepting only `keys`' algorithm and keys.
    #[must_use]
    pub fn new(keys: Arc<JwtKeys>, settings: &JwtIdentity, clock: Arc<dyn Clock>) -> Self {
        let mut validation = Validation::new(keys.algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Self {
            keys,
            validation,
            clock,
        }
    }
}

impl TokenVerifier for JwtTokenVerifier {
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.alg != self.keys.algorithm {
            return Err(TokenRejection::WrongAlgorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.verifying.get(kid))
            .ok_or(TokenRejection::UnknownKey)?;
        let wire = jsonwebtoken::decode::<WireClaims>(token, key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenRejection::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenRejection::WrongAlgorithm,
                ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer,
                ErrorKind::InvalidAudience => TokenRejection::WrongAudience,
                _ => TokenRejection::Malformed,
            })?
            .claims;
        let now = self.clock.now().timestamp();
        if now >= wire.exp {
            return Err(TokenRejection::Expired);
        }
        if wire.nbf > now + NOT_BEFORE_LEEWAY_SECS || wire.iat > now + NOT_BEFORE_LEEWAY_SECS {
            return Err(TokenRejection::NotYetValid);
        }
        let uuid = |raw: &str| Uuid::parse_str(raw).map_err(|_| TokenRejection::Malformed);
        let instant =
            |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).ok_or(TokenRejection::Malformed);
        Ok(AccessClaims {
            user_id: UserId(uuid(&wire.sub)?),
            session_id: SessionId(uuid(&wire.sid)?),
            role: wire.role.parse().map_err(|_| TokenRejection::Malformed)?,
            issued_at: instant(wire.iat)?,
            expires_at: instant(wire.exp)?,
            token_id: uuid(&wire.jti)?,
            amr: match wire.amr.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                [] | ["pwd"] => AuthMethods::Password,
                ["pwd", "otp"] => AuthMethods::PasswordAndOtp,
                _ => return Err(TokenRejection::Malformed),
            },
        })
    }
}

/// Generates a fresh private key for `algorithm` (Ed25519, or RSA 2048 for
/// RS256) as a PKCS#8 PEM document.
///
/// # Errors
/// When the algorithm is not asymmetric or the generator fails.
pub fn generate_private_key_pem(algorithm: SigningAlgorithm) -> anyhow::Result<String> {
    use aws_lc_rs::encoding::AsDer as _;
    let der: Vec<u8> = match algorithm {
        SigningAlgorithm::EdDSA => aws_lc_rs::signature::Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map_err(|_| anyhow::anyhow!("Ed25519 key generation failed"))?
            .as_ref()
            .to_vec(),
        SigningAlgorithm::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair
                .as_der()
                .map_err(|_| anyhow::anyhow!("RSA key encoding failed"))?;
            der.as_ref().to_vec()
        }
        other => anyhow::bail!("keys can be generated for EdDSA and RS256, not {other:?}"),
    };
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_publish_a_thumbprint_kid() {
        for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::RS256] {
            let pem = generate_private_key_pem(algorithm).expect("generate");
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let keys = JwtKeys::asymmetric(algorithm, pem.as_bytes(), &[]).expect("load");
            let jwks = keys.jwks();
            assert_eq!(jwks.keys.len(), 1);
            assert_eq!(
                jwks.keys[0].common.key_id.as_deref(),
                Some(keys.signing_kid())
            );
            assert_eq!(keys.signing_kid().len(), 43, "base64url SHA-256");
        }
        assert!(generate_private_key_pem(SigningAlgorithm::HS256).is_err());
    }

    #[test]
    fn algorithm_names_round_trip_and_nothing_else_parses() {
        for algorithm in [
            SigningAlgorithm::HS256,
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::RS256,
        ] {
            assert_eq!(
                algorithm.as_str().parse::<SigningAlgorithm>().ok(),
                Some(algorithm)
            );
        }
        for other in ["ES256", "hs256", "none", ""] {
            assert!(other.parse::<SigningAlgorithm>().is_err(), "{other}");
        }
    }
}
