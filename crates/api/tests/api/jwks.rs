//! `/.well-known/jwks.json`, asymmetric signing (EdDSA, RS256), key
//! rotation with retired keys, verification of issued tokens by independent
//! implementations from the JWKS alone, and `authd keys generate`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use auth_infra::testing::Backend;
use aws_lc_rs::signature::{
    ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, jwt_claims};

/// A private key PEM in a temporary file, removed on drop.
struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    fn new(algorithm: Algorithm) -> Self {
        let pem =
            auth_infra::jwt::generate_private_key_pem(signing(algorithm)).expect("generate a key");
        let path = std::env::temp_dir().join(format!("authd-key-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&path, pem).expect("write the key");
        Self { path }
    }

    fn path(&self) -> String {
        self.path.to_str().expect("UTF-8 temp path").to_owned()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The service's name for an asymmetric algorithm of the test's.
fn signing(algorithm: Algorithm) -> auth_infra::jwt::SigningAlgorithm {
    alg_name(algorithm).parse().expect("a supported algorithm")
}

fn alg_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::RS256 => "RS256",
        other => panic!("not an asymmetric algorithm: {other:?}"),
    }
}

/// Starts an app on `backend` signing with `current` and still accepting
/// `retired`.
async fn spawn_signing(
    backend: Backend,
    algorithm: Algorithm,
    current: &KeyFile,
    retired: &[&KeyFile],
) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| {
        configure_keys(settings, algorithm, current, retired);
    })
    .await
}

fn configure_keys(
    settings: &mut auth_api::settings::Settings,
    algorithm: Algorithm,
    current: &KeyFile,
    retired: &[&KeyFile],
) {
    settings.jwt.algorithm = signing(algorithm);
    settings.jwt.private_key_file = Some(current.path());
    settings.jwt.retired_key_files = retired.iter().map(|key| key.path()).collect();
}

fn skip_postgres() {
    eprintln!("TEST_DATABASE_URL is unset: PostgreSQL variant not run");
}

/// `GET /.well-known/jwks.json`: checks the response and returns the set.
async fn jwks(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let cache_control = response.headers()["cache-control"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let max_age: u64 = cache_control
        .split(',')
        .find_map(|directive| directive.trim().strip_prefix("max-age="))
        .unwrap_or_else(|| panic!("no max-age in {cache_control:?}"))
        .parse()
        .expect("max-age is a number");
    assert!(max_age > 0, "{cache_control}");
    let body: Value = response.json().await.expect("json");
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["keys"], "{body}");
    body
}

fn keys(set: &Value) -> &Vec<Value> {
    set["keys"].as_array().expect("keys array")
}

fn kid(key: &Value) -> &str {
    key["kid"].as_str().expect("kid")
}

/// The decoded JOSE header of a JWT.
fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json")
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn member(key: &Value, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(
            key[name]
                .as_str()
                .unwrap_or_else(|| panic!("`{name}` missing: {key}")),
        )
        .unwrap_or_else(|e| panic!("`{name}` is not base64url ({e}): {key}"))
}

/// Checks the members of a published key: public parts only, and a `kid`
/// that is its RFC 7638 thumbprint.
fn check_published_key(key: &Value, algorithm: Algorithm) {
    assert_eq!(key["alg"], alg_name(algorithm), "{key}");
    assert_eq!(key["use"], "sig", "{key}");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
        assert!(
            key.get(private).is_none(),
            "private member `{private}` published: {key}"
        );
    }
    let canonical = match algorithm {
        Algorithm::EdDSA => {
            assert_eq!(key["kty"], "OKP", "{key}");
            assert_eq!(key["crv"], "Ed25519", "{key}");
            assert_eq!(member(key, "x").len(), 32, "{key}");
            format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                key["x"].as_str().expect("x")
            )
        }
        _ => {
            assert_eq!(key["kty"], "RSA", "{key}");
            let n = member(key, "n");
            assert!(n.len() >= 256 && n[0] != 0, "modulus of {} bytes", n.len());
            assert_eq!(member(key, "e"), [1, 0, 1], "{key}");
            format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                key["e"].as_str().expect("e"),
                key["n"].as_str().expect("n")
            )
        }
    };
    let thumbprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(
        kid(key),
        b64(thumbprint.as_ref()),
        "kid is not the RFC 7638 thumbprint"
    );
}

/// Verifies `token` with nothing but the JWKS, using aws-lc-rs directly (no
/// JWT library): picks the key by `kid`, checks `alg`, verifies the
/// signature over `header.payload`, then `iss`, `aud` and the times.
fn verify_with_jwks(token: &str, set: &Value) -> Result<Value, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else {
        return Err("not three parts".into());
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("bad header")?;
    let key = keys(set)
        .iter()
        .find(|key| key["kid"] == header["kid"])
        .ok_or("no key with that kid")?;
    if header["alg"] != key["alg"] {
        return Err(format!("alg {} does not match the key", header["alg"]));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| "bad signature encoding")?;
    let message = format!("{header_b64}.{payload_b64}");
    let verified = match key["alg"].as_str() {
        Some("EdDSA") => UnparsedPublicKey::new(&ED25519, member(key, "x"))
            .verify(message.as_bytes(), &signature),
        Some("RS256") => RsaPublicKeyComponents {
            n: member(key, "n"),
            e: member(key, "e"),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &signature),
        other => return Err(format!("unexpected alg {other:?}")),
    };
    verified.map_err(|_| "bad signature".to_owned())?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("bad payload")?;
    let now = chrono::Utc::now().timestamp();
    if claims["iss"] != "auth-module" || claims["aud"] != "auth-module" {
        return Err(format!("wrong iss/aud: {claims}"));
    }
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    let nbf = claims["nbf"].as_i64().ok_or("no nbf")?;
    if exp <= now || nbf > now + 5 {
        return Err(format!("not valid now: {claims}"));
    }
    Ok(claims)
}

/// Re-signs nothing: swaps the payload of a genuine token.
fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(serde_json::to_vec(claims).expect("json")),
        parts[2]
    )
}

/// Runs `$name(algorithm, backend)` for EdDSA and RS256 on SQLite and
/// PostgreSQL.
macro_rules! key_test {
    ($name:ident) => {
        mod $name {
            use auth_infra::testing::Backend;
            use jsonwebtoken::Algorithm;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn eddsa_sqlite() {
                super::$name(Algorithm::EdDSA, Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn eddsa_postgres() {
                super::$name(Algorithm::EdDSA, Backend::Postgres).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rs256_sqlite() {
                super::$name(Algorithm::RS256, Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rs256_postgres() {
                super::$name(Algorithm::RS256, Backend::Postgres).await;
            }
        }
    };
}

api_test!(hs256_publishes_an_empty_key_set, |app| {
    assert_eq!(jwks(&app).await, json!({"keys": []}));
    let signup = app.signed_up("hs256@example.com").await;
    let header = jwt_header(signup["access_token"].as_str().unwrap());
    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].is_string(), "{header}");
});

key_test!(the_signing_key_is_published_and_verifies_tokens);
async fn the_signing_key_is_published_and_verifies_tokens(algorithm: Algorithm, backend: Backend) {
    let key = KeyFile::new(algorithm);
    let Some(app) = spawn_signing(backend, algorithm, &key, &[]).await else {
        return skip_postgres();
    };
    let set = jwks(&app).await;
    assert_eq!(keys(&set).len(), 1, "{set}");
    let published = &keys(&set)[0];
    check_published_key(published, algorithm);
    let expected_kid = auth_infra::jwt::JwtKeys::asymmetric(
        signing(algorithm),
        &std::fs::read(&key.path).unwrap(),
        &[],
    )
    .unwrap()
    .signing_kid()
    .to_owned();
    assert_eq!(kid(published), expected_kid);

    let signup = app.signed_up("asym@example.com").await;
    let token = signup["access_token"].as_str().unwrap();
    let header = jwt_header(token);
    assert_eq!(header["alg"], alg_name(algorithm), "{header}");
    assert_eq!(header["kid"].as_str(), Some(kid(published)), "{header}");
    assert_eq!(app.me(token).await.status(), 200);

    // An independent verifier needs nothing but the JWKS.
    let claims = verify_with_jwks(token, &set).expect("verifies with the JWKS");
    assert_eq!(claims["sub"], signup["user"]["id"]);
    assert_eq!(claims, jwt_claims(token));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    // Refreshed tokens too.
    let refreshed = app.refresh(signup["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let refreshed = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        verify_with_jwks(refreshed, &set).expect("verifies")["sid"],
        claims["sid"]
    );

    // A tampered payload fails both the independent verifier and the app.
    let mut elevated = claims.clone();
    elevated["role"] = json!("admin");
    let tampered = with_payload(token, &elevated);
    assert!(verify_with_jwks(&tampered, &set).is_err());
    assert_problem(app.me(&tampered).await, 401, "unauthorized").await;

    // Algorithm confusion: HS256 keyed with the public key, `none`, and the
    // other asymmetric algorithm are all refused.
    let payload = token.split('.').nth(1).unwrap();
    let public_bytes = match algorithm {
        Algorithm::EdDSA => member(published, "x"),
        _ => member(published, "n"),
    };
    let hs_header = b64(json!({"alg": "HS256", "typ": "JWT", "kid": kid(published)}).to_string());
    let hmac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &public_bytes);
    let mac = aws_lc_rs::hmac::sign(&hmac_key, format!("{hs_header}.{payload}").as_bytes());
    let confused = format!("{hs_header}.{payload}.{}", b64(mac.as_ref()));
    assert_problem(app.me(&confused).await, 401, "unauthorized").await;
    let none_header = b64(json!({"alg": "none", "typ": "JWT", "kid": kid(published)}).to_string());
    assert_problem(
        app.me(&format!("{none_header}.{payload}.")).await,
        401,
        "unauthorized",
    )
    .await;
    let other_alg = if algorithm == Algorithm::EdDSA {
        "RS256"
    } else {
        "EdDSA"
    };
    let other_header =
        b64(json!({"alg": other_alg, "typ": "JWT", "kid": kid(published)}).to_string());
    let signature = token.split('.').nth(2).unwrap();
    assert_problem(
        app.me(&format!("{other_header}.{payload}.{signature}"))
            .await,
        401,
        "unauthorized",
    )
    .await;
    // An unknown kid is refused even with a valid signature.
    let mut header = jwt_header(token);
    header["kid"] = json!("some-other-key");
    let parts: Vec<&str> = token.split('.').collect();
    let unknown_kid = format!("{}.{}.{}", b64(header.to_string()), parts[1], parts[2]);
    assert_problem(app.me(&unknown_kid).await, 401, "unauthorized").await;
}

key_test!(retired_keys_verify_during_a_rotation);
async fn retired_keys_verify_during_a_rotation(algorithm: Algorithm, backend: Backend) {
    let old_key = KeyFile::new(algorithm);
    let new_key = KeyFile::new(algorithm);
    // A: before the rotation, signing with the old key.
    let Some(before) = spawn_signing(backend, algorithm, &old_key, &[]).await else {
        return skip_postgres();
    };
    let signup = before.signed_up("rotation@example.com").await;
    let old_token = signup["access_token"].as_str().unwrap();
    let old_kid = kid(&keys(&jwks(&before).await)[0]).to_owned();
    assert_eq!(
        jwt_header(old_token)["kid"].as_str(),
        Some(old_kid.as_str())
    );

    // B: during the rotation, on the same database: signs with the new key,
    // still accepts the old one and publishes both, current first.
    let during = before
        .spawn_sharing(|settings| configure_keys(settings, algorithm, &new_key, &[&old_key]))
        .await;
    let set = jwks(&during).await;
    assert_eq!(keys(&set).len(), 2, "{set}");
    for key in keys(&set) {
        check_published_key(key, algorithm);
    }
    let new_kid = kid(&keys(&set)[0]).to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(kid(&keys(&set)[1]), old_kid);

    let me = during.me(old_token).await;
    assert_eq!(me.status(), 200, "a token of the old key is still accepted");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], signup["user"]["id"]);
    verify_with_jwks(old_token, &set).expect("old token verifies with B's JWKS");

    // New tokens carry the new kid, also when refreshing an old session.
    let refreshed = during
        .refresh(signup["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_header(new_token)["kid"].as_str(),
        Some(new_kid.as_str())
    );
    assert_eq!(jwt_claims(new_token)["sid"], jwt_claims(old_token)["sid"]);
    verify_with_jwks(new_token, &set).expect("new token verifies with B's JWKS");
    assert_eq!(during.me(new_token).await.status(), 200);
    // A knows nothing of the new key.
    assert_problem(before.me(new_token).await, 401, "unauthorized").await;

    // C: after the rotation, the old key is gone: its tokens are refused.
    let after = before
        .spawn_sharing(|settings| configure_keys(settings, algorithm, &new_key, &[]))
        .await;
    let set = jwks(&after).await;
    assert_eq!(keys(&set).len(), 1);
    assert_eq!(kid(&keys(&set)[0]), new_kid);
    assert!(verify_with_jwks(old_token, &set).is_err());
    assert_problem(after.me(old_token).await, 401, "unauthorized").await;
    assert_eq!(after.me(new_token).await.status(), 200);
    let login = after.login("rotation@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
}

/// The Python verifier: reads `{"jwks", "token", "alg"}` on stdin, prints the
/// claims PyJWT verified, exits non-zero when it refuses the token.
const PYJWT_VERIFY: &str = r#"
import json, sys, jwt
data = json.load(sys.stdin)
key_set = jwt.PyJWKSet.from_dict(data["jwks"])
kid = jwt.get_unverified_header(data["token"])["kid"]
key = next(k for k in key_set.keys if k.key_id == kid)
claims = jwt.decode(data["token"], key.key, algorithms=[data["alg"]],
                    audience="auth-module", issuer="auth-module",
                    options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]})
print(json.dumps(claims))
"#;

fn pyjwt(input: &Value) -> Output {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .args(["-c", PYJWT_VERIFY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("python3 output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_verifies_tokens_with_the_jwks() {
    let probe = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    // CI installs PyJWT and sets this, so there the test cannot skip.
    if std::env::var_os("AUTH_TEST_REQUIRE_PYJWT").is_some() {
        let probe = probe.as_ref().expect("python3 runs");
        assert!(
            probe.status.success(),
            "PyJWT is required but cannot be imported"
        );
    }
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            eprintln!(
                "skipped: python3 cannot import PyJWT and cryptography ({})",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no error output")
            );
            return;
        }
        Err(error) => {
            eprintln!("skipped: python3 is not available ({error})");
            return;
        }
    }
    for algorithm in [Algorithm::EdDSA, Algorithm::RS256] {
        let key = KeyFile::new(algorithm);
        let app = spawn_signing(Backend::Sqlite, algorithm, &key, &[])
            .await
            .expect("SQLite app");
        let set = jwks(&app).await;
        let signup = app.signed_up("pyjwt@example.com").await;
        let token = signup["access_token"].as_str().unwrap();
        let verified = pyjwt(&json!({"jwks": set, "token": token, "alg": alg_name(algorithm)}));
        assert!(
            verified.status.success(),
            "PyJWT refused a {algorithm:?} token: {}",
            String::from_utf8_lossy(&verified.stderr)
        );
        let claims: Value = serde_json::from_slice(&verified.stdout).expect("claims JSON");
        assert_eq!(claims, jwt_claims(token));
        assert_eq!(claims["sub"], signup["user"]["id"]);

        let mut elevated = claims.clone();
        elevated["role"] = json!("admin");
        let tampered = with_payload(token, &elevated);
        let refused = pyjwt(&json!({"jwks": set, "token": tampered, "alg": alg_name(algorithm)}));
        assert!(!refused.status.success(), "PyJWT accepted a tampered token");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("InvalidSignatureError"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
}

/// Runs `authd` with a clean configuration environment.
fn authd(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
    command.args(args).env_remove("DATABASE_URL");
    for (key, _) in std::env::vars() {
        if key.starts_with("AUTH__") {
            command.env_remove(key);
        }
    }
    command.output().expect("run authd")
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("authd-keys-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn generate(alg: &str, out: &Path) -> Output {
    authd(&[
        "keys",
        "generate",
        "--alg",
        alg,
        "--out",
        out.to_str().expect("UTF-8"),
    ])
}

#[test]
fn keys_generate_writes_a_private_key_readable_only_by_its_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir();
    for (alg, algorithm) in [("EdDSA", Algorithm::EdDSA), ("RS256", Algorithm::RS256)] {
        let out = dir.join(format!("{alg}.pem"));
        let output = generate(alg, &out);
        assert!(output.status.success(), "{output:?}");
        let mode = std::fs::metadata(&out)
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        let pem = std::fs::read(&out).expect("read");
        assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
        let keys = auth_infra::jwt::JwtKeys::asymmetric(signing(algorithm), &pem, &[])
            .unwrap_or_else(|e| panic!("{alg} key does not load: {e:#}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(keys.signing_kid()), "{stdout}");
        // The other algorithm does not take it.
        let other = if algorithm == Algorithm::EdDSA {
            Algorithm::RS256
        } else {
            Algorithm::EdDSA
        };
        assert!(auth_infra::jwt::JwtKeys::asymmetric(signing(other), &pem, &[]).is_err());
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn keys_generate_never_overwrites() {
    let dir = temp_dir();
    let out = dir.join("key.pem");
    assert!(generate("EdDSA", &out).status.success());
    let first = std::fs::read(&out).expect("read");
    for alg in ["EdDSA", "RS256"] {
        let again = generate(alg, &out);
        assert!(!again.status.success(), "{again:?}");
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("key.pem"),
            "{again:?}"
        );
        assert_eq!(
            std::fs::read(&out).expect("read"),
            first,
            "the key was replaced"
        );
    }
    // Nor anything else that exists.
    let other = dir.join("notes.txt");
    std::fs::write(&other, "keep me").unwrap();
    assert!(!generate("RS256", &other).status.success());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn keys_generate_refuses_symmetric_and_unknown_algorithms() {
    let dir = temp_dir();
    for alg in ["HS256", "ES256", "eddsa", ""] {
        let out = dir.join(format!("{alg}.pem"));
        let output = generate(alg, &out);
        assert!(!output.status.success(), "{alg}: {output:?}");
        assert!(!out.exists(), "{alg}: a file was written");
        assert!(!output.stderr.is_empty(), "{alg}: no explanation");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_key_file_serves_tokens() {
    let dir = temp_dir();
    let out = dir.join("served.pem");
    let output = generate("EdDSA", &out);
    assert!(output.status.success(), "{output:?}");
    let path = out.to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.jwt.algorithm = auth_infra::jwt::SigningAlgorithm::EdDSA;
        settings.jwt.private_key_file = Some(path);
    })
    .await
    .expect("SQLite app");
    let set = jwks(&app).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(kid(&keys(&set)[0])), "{stdout} vs {set}");
    let signup = app.signed_up("generated@example.com").await;
    verify_with_jwks(signup["access_token"].as_str().unwrap(), &set).expect("verifies");
    std::fs::remove_dir_all(dir).ok();
}
